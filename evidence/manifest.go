package evidence

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// Manifest describes one committed object of a window (its first object,
// or a delta): what was exported, what the source counted at the time,
// and a checksum of the object. It is stored beside the data under
// "_manifests/" (Hive-style readers skip it), written once, never replaced:
//
//	<path or prefix>/_manifests/account=<a>/date=<d>/<a>_<start>_<end>.<ext>.json
//	<path or prefix>/_manifests/account=<a>/date=<d>/<a>_<start>_<end>_delta-0001.<ext>.json
type Manifest struct {
	Account     string    `json:"account"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Part is 0 for the window's first object, n for its n-th delta (the
	// records that became visible after the parts before it were written).
	Part    int    `json:"part,omitempty"`
	Object  string `json:"object"` // relative to the sink's path or prefix
	Format  string `json:"format"` // extension: jsonl, jsonl.gz, parquet
	Records int64  `json:"records"`
	// SourceCount is the API's @odata.count for the window's padded query
	// when the window was exported; -1 if the API sent none (unknown).
	SourceCount int64 `json:"source_count"`
	// Completeness says how the listing was judged complete: "counted"
	// (distinct records covered the count), "stored-duplicates" (rows
	// covered the count, a second listing served the same distinct
	// records), "uncounted" (the API sent no count); empty in manifests
	// written before it was recorded; "adopted" for an object found
	// without its manifest (a run stopped between the two) whose manifest
	// was written later from its records.
	Completeness    string    `json:"completeness,omitempty"`
	SHA256          string    `json:"sha256"`
	Bytes           int64     `json:"bytes"`
	ExporterVersion string    `json:"exporter_version"`
	ExportedAt      time.Time `json:"exported_at"`
	// Categories counts the object's records per category (at most
	// maxCategories names, the rest under OtherCategory), for the report.
	Categories map[string]int64 `json:"categories,omitempty"`
	// Selection names the records the sink writes when it writes only
	// some ("ocsf_class=api_activity": one OCSF class per object); empty
	// when it writes every record. The source's count is then unknown
	// (-1): the API counts no class.
	Selection string `json:"selection,omitempty"`
	// ObjectVersion is the version ID the destination gave the object
	// (an S3 versioned bucket), empty elsewhere.
	ObjectVersion string `json:"object_version,omitempty"`

	// Stored is what verify learned of the stored manifest itself.
	Stored Stored `json:"-"`
}

// Stored describes a stored manifest or seal as bytes: its hash (what a
// seal links to) and its signature.
type Stored struct {
	SHA256 string // of the stored bytes, envelope included
	// Signature is nil for an unsigned document.
	Signature *Signature
	// SigErr says why the signature is not good (ErrUnknownKey when no
	// public key given has its ID).
	SigErr error
}

// SignedBy is the key ID that signed, "" when unsigned.
func (s Stored) SignedBy() string {
	if s.Signature == nil {
		return ""
	}
	return shortID(s.Signature.KeyID)
}

// Window is the window m describes.
func (m Manifest) Window() audit.Window {
	return audit.Window{Account: m.Account, Start: m.WindowStart, End: m.WindowEnd}
}

// CompletenessAdopted marks the manifest of an object that was published
// without one (the run stopped between the two) and adopted later.
const CompletenessAdopted = "adopted"

// Category counting bounds: names are outside input.
const (
	maxCategories   = 64
	maxCategoryName = 128
	// OtherCategory collects the records of categories past maxCategories.
	OtherCategory = "(other)"
)

// CountCategory adds one record of category c to m, a manifest's
// Categories.
func CountCategory(m map[string]int64, c string) {
	if _, ok := m[c]; ok {
		m[c]++
		return
	}
	named := len(m)
	if _, ok := m[OtherCategory]; ok {
		named--
	}
	if len(c) > maxCategoryName || named >= maxCategories {
		m[OtherCategory]++
		return
	}
	m[c] = 1
}

// Encode renders a manifest or seal as stored: indented JSON, or, with a
// signer, its signed envelope; and describes the stored bytes.
func Encode(doc any, signer *Signer) ([]byte, Stored, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, Stored{}, err
	}
	if signer != nil {
		if b, err = signer.Seal(b); err != nil {
			return nil, Stored{}, err
		}
	} else {
		b = append(b, '\n')
	}
	_, st, _ := openDoc(b, nil)
	return b, st, nil
}

// openDoc takes a stored manifest or seal out of its envelope.
func openDoc(b []byte, keys map[string]ed25519.PublicKey) ([]byte, Stored, error) {
	sum := sha256.Sum256(b)
	st := Stored{SHA256: hex.EncodeToString(sum[:])}
	o, err := Open(b, keys)
	if err != nil {
		return nil, st, err
	}
	st.Signature, st.SigErr = o.Sig, o.SigErr
	return o.Doc, st, nil
}

// DecodeManifest parses a stored manifest and checks that it describes
// window w's part (0: its first object, n: its n-th delta) stored as
// object in format ext, checking a signature with keys: a manifest is
// outside input (anyone with write access to the bucket or directory can
// change it), and verify trusts its record count and checksum.
func DecodeManifest(b []byte, w audit.Window, ext string, part int, object string, keys map[string]ed25519.PublicKey) (Manifest, error) {
	var m Manifest
	doc, st, err := openDoc(b, keys)
	if err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	m.Stored = st
	var problems []string
	if len(m.SHA256) != sha256.Size*2 || strings.Trim(m.SHA256, "0123456789abcdef") != "" {
		problems = append(problems, fmt.Sprintf("sha256 %q is not 64 lowercase hex digits", shortText(m.SHA256)))
	}
	if want := object; m.Object != want || m.Part != part || m.Format != ext || m.Account != w.Account || !m.WindowStart.Equal(w.Start) || !m.WindowEnd.Equal(w.End) {
		problems = append(problems, fmt.Sprintf("it describes %q (%s, %s, %s..%s), not %q", shortText(m.Object), shortText(m.Format), shortText(m.Account),
			m.WindowStart.UTC().Format(time.RFC3339), m.WindowEnd.UTC().Format(time.RFC3339), want))
	}
	switch m.Completeness {
	case "", "counted", "stored-duplicates", "uncounted", CompletenessAdopted:
	default:
		problems = append(problems, fmt.Sprintf("completeness %q is not counted, stored-duplicates, uncounted or adopted", shortText(m.Completeness)))
	}
	for c, n := range m.Categories {
		if n < 0 || len(c) > maxCategoryName {
			problems = append(problems, fmt.Sprintf("category %q has a negative count or a name longer than %d bytes", shortText(c), maxCategoryName))
			break
		}
	}
	if len(m.Categories) > maxCategories+1 {
		problems = append(problems, fmt.Sprintf("%d categories, more than the %d a manifest holds", len(m.Categories), maxCategories+1))
	}
	if m.Records < 0 || m.Bytes < 0 || m.SourceCount < -1 {
		problems = append(problems, fmt.Sprintf("negative counts (records %d, bytes %d, source_count %d)", m.Records, m.Bytes, m.SourceCount))
	}
	if len(problems) > 0 {
		return m, fmt.Errorf("manifest: %s", strings.Join(problems, "; "))
	}
	return m, nil
}

// printable keeps at most n bytes of s (whole characters) without control
// characters: a stored text shown as it is in a report.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > n {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// shortText keeps a value from a manifest short enough for a message.
func shortText(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
