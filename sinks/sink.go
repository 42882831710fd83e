// Package sinks writes exported windows. A Sink is a format (JSON lines,
// Parquet) on a destination (a local directory, an S3 bucket, a stream).
// A window is written to its first object, whose name depends only on
// account, window and format, and later records of it to deltas (see
// PartName); each object is invisible until Commit and, once committed,
// never replaced.
//
// One commit layer (Output) owns everything a window's commit promises:
// encoding, staging, the digest, the size limit, the manifest and reading
// them back for verify (package evidence says what manifests and seals
// hold and how they are checked). A Destination does only I/O: it stages
// an object, publishes it under its name, and (a Keeper) stores and reads
// back small objects such as manifests; what else it can do it declares
// once (see Destination). Each destination is a package of its own
// (sinks/file, sinks/s3, sinks/stream, sinks/memdest) with its
// configuration, its checks of it and its construction, and passes
// sinks/sinktest.
//
// A destination that receives records rather than objects (a bulk API
// indexing documents under deterministic IDs) implements Sink itself:
// Open returns a Writer that buffers the window and Commit sends it. It
// keeps nothing verify reads back (Archive returns nil), which verify
// reports as not verifiable.
package sinks

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
)

// Sink opens windows for writing.
type Sink interface {
	// Name identifies the sink in logs and errors ("file:./out jsonl").
	Name() string
	// Open starts writing window w. Nothing is visible to readers until
	// Commit succeeds. Once ctx is cancelled, writes fail, and a writer
	// whose Write failed never commits.
	Open(ctx context.Context, w audit.Window) (Writer, error)
	// OpenPart is Open for w's part: 0 its first object, n its n-th delta
	// (see PartName).
	OpenPart(ctx context.Context, w audit.Window, part int) (Writer, error)
	// Probe proves, leaving nothing behind, that windows can be written
	// (for check).
	Probe(ctx context.Context) error
	// Archive returns what the sink keeps of committed windows (read back
	// by verify, sealed by day), or nil when the destination keeps nothing
	// (a stream).
	Archive() Archive
}

// Writer receives one window's records.
type Writer interface {
	// Write appends r. r may be reused by the caller after Write returns.
	Write(r *audit.Record) error
	// Commit makes the object visible under its deterministic name and
	// records src (what the source said of the window) in its manifest.
	// It fails, committing nothing, when ctx is done, an earlier Write
	// failed, or the name is taken (ErrExists: a committed object is
	// never replaced).
	// Callers that commit several sinks pass a context that a shutdown
	// signal does not cancel, so the sinks agree on what was committed.
	Commit(ctx context.Context, src Source) error
	// Records is how many records were written.
	Records() int64
	// Abort discards everything written. It is safe to call after Commit
	// (it then does nothing) and more than once.
	Abort() error
}

// Format encodes records into a byte stream.
type Format interface {
	// Ext is the file extension without a dot ("jsonl", "jsonl.gz").
	Ext() string
	// ContentType is the media type of the encoded stream.
	ContentType() string
	// NewEncoder starts an encoding into w.
	NewEncoder(w io.Writer, win audit.Window) (Encoder, error)
	// Read decodes what an encoder wrote, calling fn for each record in
	// order.
	Read(r io.ReaderAt, size int64, fn func(audit.Record) error) error
}

// schemaOr is s, or the record schema when s is nil.
func schemaOr(s schema.Schema) schema.Schema {
	if s == nil {
		return sap.Schema
	}
	return s
}

// tagged is an encoding's extension in schema s ("jsonl", "ocsf.jsonl").
func tagged(s schema.Schema, ext string) string {
	if t := s.Tag(); t != "" {
		return t + "." + ext
	}
	return ext
}

// Encoder writes records; Close flushes what the format keeps buffered
// (a gzip trailer, a Parquet footer) but does not close the underlying writer.
type Encoder interface {
	Encode(r *audit.Record) error
	Close() error
}

// Aborter is implemented by an Encoder that works beside its caller (a
// goroutine writing Parquet pages): Abort stops it before the window's
// staged object is discarded.
type Aborter interface {
	Abort()
}

// LocalFile is implemented by what a Keeper's Get returns when the object
// is a local file: it reads at offsets, so it is decoded without a copy.
type LocalFile interface {
	io.ReaderAt
	Stat() (os.FileInfo, error)
}

// ObjectName is the deterministic name of a window's output, relative to a
// sink's path or prefix:
//
//	account=<account>/date=<YYYY-MM-DD>/<account>_<start>_<end>.<ext>
func ObjectName(w audit.Window, ext string) string {
	const stamp = "20060102T150405Z"
	s, e := w.Start.UTC(), w.End.UTC()
	return path.Join("account="+w.Account, "date="+s.Format(time.DateOnly),
		w.Account+"_"+s.Format(stamp)+"_"+e.Format(stamp)+"."+ext)
}

// Schemas are the schemas a sink may write, by tag.
var schemas = map[string]schema.Schema{sap.Schema.Tag(): sap.Schema, ocsf.Schema.Tag(): ocsf.Schema}

// FormatOf returns the format that writes objects of an export extension
// ("jsonl", "ocsf.jsonl.gz", "parquet" ...; compression as written by
// default), for reading them back.
func FormatOf(ext string) (Format, bool) {
	tag, enc := "", ext
	if t, e, ok := strings.Cut(ext, "."); ok && schemas[t] != nil {
		tag, enc = t, e
	}
	sc := schemas[tag]
	switch enc {
	case "jsonl", "jsonl.gz":
		return JSONL{Gzip: enc == "jsonl.gz", Schema: sc}, true
	case "parquet":
		return Parquet{Schema: sc}, true
	}
	return nil, false
}

// ReadObject decodes an export of the given extension (see FormatOf) and
// calls fn for each record in order.
func ReadObject(ext string, r io.ReaderAt, size int64, fn func(audit.Record) error) error {
	f, ok := FormatOf(ext)
	if !ok {
		return fmt.Errorf("unknown export extension %q", ext)
	}
	return f.Read(r, size, fn)
}

// ExtOf returns the export extension of an object name.
func ExtOf(name string) string {
	for _, ext := range []string{"ocsf.jsonl.gz", "ocsf.jsonl", "ocsf.parquet", "jsonl.gz", "jsonl", "parquet"} {
		if strings.HasSuffix(name, "."+ext) {
			return ext
		}
	}
	return ""
}
