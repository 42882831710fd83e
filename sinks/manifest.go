package sinks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"path"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

// Each committed part has a manifest and each sealed day a seal: their
// formats, checks and chain are package evidence's; a sink names them,
// stores them beside the data and reads them back.

// ManifestName is the name of the manifest of w's first object relative
// to a sink's path or prefix.
func ManifestName(w audit.Window, ext string) string { return PartManifestName(w, ext, 0) }

// PartManifestName is the name of the manifest of w's part.
func PartManifestName(w audit.Window, ext string, part int) string {
	return path.Join("_manifests", PartName(w, ext, part)+".json")
}

// Source is what the source said of a window, for its manifest.
type Source struct {
	Count        int64  // the source's count of the padded query, -1 if unknown
	Completeness string // how the listing was judged complete
}

// Archive is what a sink keeps of its committed windows (Sink.Archive):
// their objects and manifests, read back for verify and for appending
// deltas, and the day seals it writes and reads. Objects are named
// relative to the sink (evidence.Manifest.Object).
type Archive interface {
	// ReadManifest returns the manifest of w's first object, or found = false.
	ReadManifest(ctx context.Context, w audit.Window) (m evidence.Manifest, found bool, err error)
	// Windows returns the windows of account's UTC day that have parts,
	// of whatever grid they were exported on, in order.
	Windows(ctx context.Context, account string, day time.Time) ([]audit.Window, error)
	// ReadParts returns the manifests of w's committed parts, oldest
	// first (none: the window was never committed), and the name of an
	// object that was published as w's next part without a manifest ("":
	// none).
	ReadParts(ctx context.Context, w audit.Window) (parts []evidence.Manifest, orphan string, err error)
	// Adopt writes the manifest of w's part published without one, after
	// reading its records back and checking that each is w's and none is
	// in an earlier part (held). It returns the manifest.
	Adopt(ctx context.Context, w audit.Window, part int, held *Held) (evidence.Manifest, error)
	// Hold reads the records of parts and adds their Uuids to held.
	Hold(ctx context.Context, parts []evidence.Manifest, held *Held) error
	// Checksum reads an object and returns its SHA-256 (hex) and size, or
	// found = false.
	Checksum(ctx context.Context, object string) (sum string, size int64, found bool, err error)
	// Records reads an object and calls fn for each record, in order.
	Records(ctx context.Context, object string, fn func(audit.Record) error) error
	// Inspect returns what the destination says of an object beyond its
	// bytes: its current version and retention lock (S3), zero elsewhere.
	Inspect(ctx context.Context, object string) (ObjectInfo, error)
	// Seal seals the day whose windows are day (all of one account and
	// UTC day, in order), as evidence.NextSeal says.
	Seal(ctx context.Context, day []audit.Window, reason string) (SealOutcome, error)
	// ReadSeals returns every generation of account's seal of the UTC day
	// that starts at date, oldest first.
	ReadSeals(ctx context.Context, account string, date time.Time) ([]evidence.StoredSeal, error)
}

// ObjectInfo is what a destination says of a committed object.
type ObjectInfo struct {
	// Version is the object's current version ID (versioned buckets).
	Version string
	// LockMode is the object's retention mode (GOVERNANCE or COMPLIANCE),
	// LockUntil when the retention ends; empty without Object Lock.
	LockMode  string
	LockUntil time.Time
	// SHA256 is the SHA-256 (hex) of the object's bytes as the store
	// computed and keeps it (S3's full-object checksum), Size their
	// number; "" where the store keeps none (the file sink, an object
	// written before checksums were asked for).
	SHA256 string
	Size   int64
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
