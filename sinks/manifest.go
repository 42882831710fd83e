package sinks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// Manifest describes one committed window: what was exported, what the
// source counted at the time, and a checksum of the object. It is stored
// beside the data under "_manifests/" (Hive-style readers skip it):
//
//	<path or prefix>/_manifests/account=<a>/date=<d>/<a>_<start>_<end>.<ext>.json
type Manifest struct {
	Account     string    `json:"account"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Object      string    `json:"object"` // relative to the sink's path or prefix
	Format      string    `json:"format"` // extension: jsonl, jsonl.gz, parquet
	Records     int64     `json:"records"`
	// SourceCount is the API's @odata.count for the window's padded query
	// when the window was exported; -1 if the API sent none (unknown).
	SourceCount int64 `json:"source_count"`
	// Completeness says how the listing was judged complete: "counted"
	// (distinct records covered the count), "stored-duplicates" (rows
	// covered the count, a second listing served the same distinct
	// records), "uncounted" (the API sent no count); empty in manifests
	// written before it was recorded.
	Completeness    string    `json:"completeness,omitempty"`
	SHA256          string    `json:"sha256"`
	Bytes           int64     `json:"bytes"`
	ExporterVersion string    `json:"exporter_version"`
	ExportedAt      time.Time `json:"exported_at"`
}

// ManifestName is the manifest's name relative to a sink's path or prefix.
func ManifestName(w audit.Window, ext string) string {
	return path.Join("_manifests", ObjectName(w, ext)+".json")
}

// Source is what the source said of a window, for its manifest.
type Source struct {
	Count        int64  // the source's count of the padded query, -1 if unknown
	Completeness string // how the listing was judged complete
}

// Verifier checks committed windows later (Sink.Verifier).
type Verifier interface {
	// ReadManifest returns w's manifest, or found = false.
	ReadManifest(ctx context.Context, w audit.Window) (m Manifest, found bool, err error)
	// Checksum reads w's object and returns its SHA-256 (hex) and size, or
	// found = false.
	Checksum(ctx context.Context, w audit.Window) (sum string, size int64, found bool, err error)
	// Records reads w's object and calls fn for each record, in order.
	Records(ctx context.Context, w audit.Window, fn func(audit.Record) error) error
}

// digest hashes and counts the bytes written through it.
type digest struct {
	h hash.Hash
	n int64
}

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) Write(p []byte) (int, error) {
	d.h.Write(p)
	d.n += int64(len(p))
	return len(p), nil
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// manifestFor builds the manifest of a committed window.
func manifestFor(w audit.Window, f Format, records int64, src Source, d *digest, version string) ([]byte, error) {
	m := Manifest{Account: w.Account, WindowStart: w.Start.UTC(), WindowEnd: w.End.UTC(), Object: ObjectName(w, f.Ext()), Format: f.Ext(),
		Records: records, SourceCount: src.Count, Completeness: src.Completeness, SHA256: d.sum(), Bytes: d.n, ExporterVersion: version, ExportedAt: time.Now().UTC()}
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// DecodeManifest parses a stored manifest and checks that it describes
// window w in format ext: a manifest is outside input (anyone with write
// access to the bucket or directory can change it), and verify trusts its
// record count and checksum.
func DecodeManifest(b []byte, w audit.Window, ext string) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	var problems []string
	if len(m.SHA256) != sha256.Size*2 || strings.Trim(m.SHA256, "0123456789abcdef") != "" {
		problems = append(problems, fmt.Sprintf("sha256 %q is not 64 lowercase hex digits", shortText(m.SHA256)))
	}
	if want := ObjectName(w, ext); m.Object != want || m.Format != ext || m.Account != w.Account || !m.WindowStart.Equal(w.Start) || !m.WindowEnd.Equal(w.End) {
		problems = append(problems, fmt.Sprintf("it describes %q (%s, %s, %s..%s), not %q", shortText(m.Object), shortText(m.Format), shortText(m.Account),
			m.WindowStart.UTC().Format(time.RFC3339), m.WindowEnd.UTC().Format(time.RFC3339), want))
	}
	switch m.Completeness {
	case "", "counted", "stored-duplicates", "uncounted":
	default:
		problems = append(problems, fmt.Sprintf("completeness %q is not counted, stored-duplicates or uncounted", shortText(m.Completeness)))
	}
	if m.Records < 0 || m.Bytes < 0 || m.SourceCount < -1 {
		problems = append(problems, fmt.Sprintf("negative counts (records %d, bytes %d, source_count %d)", m.Records, m.Bytes, m.SourceCount))
	}
	if len(problems) > 0 {
		return m, fmt.Errorf("manifest: %s", strings.Join(problems, "; "))
	}
	return m, nil
}

// shortText keeps a value from a manifest short enough for a message.
func shortText(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// checksumOf hashes a stream.
func checksumOf(r io.Reader) (string, int64, error) {
	d := newDigest()
	if _, err := io.Copy(d, r); err != nil {
		return "", 0, err
	}
	return d.sum(), d.n, nil
}
