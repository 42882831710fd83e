package sinks

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/internal/stage"
)

// maxManifestBytes caps a manifest read back: it is outside input.
const maxManifestBytes = 1 << 20

// Output is a format on a destination: the one commit layer every
// destination shares. A window's records are encoded into a staged object
// while they are written, hashed and counted on the way; Commit checks the
// size limit, publishes the object and, on a Keeper, writes the manifest
// after it (a crash in between leaves data without a manifest, which verify
// reports and --repair rewrites).
type Output struct {
	dest   Destination
	format Format
	// keeper and inspector are dest's capabilities, read once by New
	// (nil: it has none).
	keeper    Keeper
	inspector Inspector
	// Version is recorded in each window's manifest.
	Version string
	// Signer, when set, signs every manifest and seal written.
	Signer *evidence.Signer
	// Keys are the public keys signatures are checked with when reading
	// manifests and seals back.
	Keys map[string]ed25519.PublicKey
	// Layout, when set, names data objects: it maps a part's name
	// (account=<a>/date=<d>/<name>) to where the object is stored
	// (SecurityLakeLayout). Manifests and seals keep their names.
	Layout func(name string) string
	// Only, when set, selects the records o writes; the others are
	// skipped (Security Lake: one OCSF class per object).
	Only *Selection
	// Now is the clock of the times o records (a manifest's exported_at,
	// a seal's sealed_at); nil: time.Now. The exporter's clock, so that
	// tests can fix time.
	Now func() time.Time
}

// now is o's clock, in UTC.
func (o *Output) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// Selection is the kind of records a sink writes.
type Selection struct {
	// Name says which records, in manifests and messages
	// ("ocsf_class=api_activity").
	Name    string
	Accepts func(*audit.Record) bool
}

// Accepts reports whether o writes r.
func (o *Output) Accepts(r *audit.Record) bool { return o.Only == nil || o.Only.Accepts(r) }

// Selective reports whether o writes only some records.
func (o *Output) Selective() bool { return o.Only != nil }

// partName is where w's part is stored.
func (o *Output) partName(w audit.Window, part int) string {
	n := PartName(w, o.format.Ext(), part)
	if o.Layout != nil {
		return o.Layout(n)
	}
	return n
}

var _ Sink = (*Output)(nil)

// New returns the sink writing format to dest.
func New(dest Destination, format Format) *Output {
	o := &Output{dest: dest, format: format}
	o.keeper, _ = dest.(Keeper)
	o.inspector, _ = dest.(Inspector)
	return o
}

// Keeper is what o's destination keeps and reads back, nil when it keeps
// nothing (a stream).
func (o *Output) Keeper() Keeper { return o.keeper }

// Name implements Sink.
func (o *Output) Name() string { return o.dest.Name() + " " + o.format.Ext() }

// Destination is where o publishes.
func (o *Output) Destination() Destination { return o.dest }

// ObjectName is the name of window w's first object in o's destination.
func (o *Output) ObjectName(w audit.Window) string { return o.partName(w, 0) }

// Ext is the extension of o's objects.
func (o *Output) Ext() string { return o.format.Ext() }

// Probe implements Sink.
func (o *Output) Probe(ctx context.Context) error {
	if err := o.dest.Probe(ctx); err != nil {
		return fmt.Errorf("sink %s: %w", o.Name(), err)
	}
	return nil
}

// Archive implements Sink: nil unless the destination is a Keeper.
func (o *Output) Archive() Archive {
	if o.keeper == nil {
		return nil
	}
	return archive{o: o, k: o.keeper}
}

// Open implements Sink: the window's first object.
func (o *Output) Open(ctx context.Context, w audit.Window) (Writer, error) {
	return o.OpenPart(ctx, w, 0)
}

// OpenPart implements Sink.
func (o *Output) OpenPart(ctx context.Context, w audit.Window, part int) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if part < 0 || part > MaxDeltas {
		return nil, fmt.Errorf("sink %s: window %s has %d parts, more than the %d deltas a window may have", o.Name(), w, part, MaxDeltas)
	}
	st, err := o.dest.Stage(ctx, o.partName(w, part))
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", o.Name(), err)
	}
	wr := &writer{o: o, win: w, part: part, ctx: ctx, st: st, dg: newDigest(), cats: map[string]int64{}}
	wr.bw = bufio.NewWriterSize(io.MultiWriter(st, wr.dg), 256<<10)
	if wr.enc, err = o.format.NewEncoder(wr.bw, w); err != nil {
		_ = st.Discard()
		return nil, fmt.Errorf("sink %s: %w", o.Name(), err)
	}
	return wr, nil
}

// writer is one window on its way through an Output.
type writer struct {
	o      *Output
	win    audit.Window
	part   int
	ctx    context.Context // Open's: checked every 1024 records
	st     Staged
	bw     *bufio.Writer
	dg     *digest
	enc    Encoder
	n      int64 // records written
	cats   map[string]int64
	err    error // the first Write error: a writer whose Write failed never commits
	closed bool  // committed or aborted
}

// Write implements Writer.
func (w *writer) Write(r *audit.Record) error {
	switch {
	case w.closed:
		return errors.New("write after commit or abort")
	case w.err != nil:
		return w.err
	}
	if !w.o.Accepts(r) {
		return nil // another sink's kind of record
	}
	if w.n&1023 == 0 {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			return err
		}
	}
	if err := w.enc.Encode(r); err != nil {
		w.err = fmt.Errorf("sink %s: write %s: %w", w.o.Name(), w.object(), err)
		return w.err
	}
	w.n++
	evidence.CountCategory(w.cats, r.Category)
	return nil
}

// object is the name of the object being written.
func (w *writer) object() string { return w.o.partName(w.win, w.part) }

// Records implements Writer.
func (w *writer) Records() int64 { return w.n }

// Commit implements Writer.
func (w *writer) Commit(ctx context.Context, src Source) error {
	if w.closed {
		return errors.New("commit after commit or abort")
	}
	name := w.o.Name()
	fail := func(err error) error {
		_ = w.Abort()
		return err
	}
	if w.err != nil {
		return fail(fmt.Errorf("sink %s: commit after a failed write: %w", name, w.err))
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("sink %s: commit %s: %w", name, w.object(), err))
	}
	if err := w.enc.Close(); err != nil {
		return fail(fmt.Errorf("sink %s: finish encoding: %w", name, err))
	}
	if err := w.bw.Flush(); err != nil {
		return fail(fmt.Errorf("sink %s: stage: %w", name, err))
	}
	if limit, why := w.o.dest.MaxObjectSize(); limit > 0 && w.dg.n > limit {
		// Known before publishing anything: the destination would refuse
		// it, every time, so retrying cannot help.
		return fail(errclass.Mark(errclass.Config, fmt.Errorf("sink %s: window %s encodes to %d bytes, more than the %d bytes one object can hold (%s); choose a smaller export.window",
			name, w.win, w.dg.n, limit, why)))
	}
	meta := ObjectMeta{Window: w.win, Format: w.o.format.Ext(), ContentType: w.o.format.ContentType(), Records: w.n, Bytes: w.dg.n}
	if err := w.st.Publish(ctx, meta); err != nil {
		return fail(fmt.Errorf("sink %s: %w", name, err))
	}
	w.closed = true
	k := w.o.keeper
	if k == nil {
		return nil
	}
	m := evidence.Manifest{Account: w.win.Account, WindowStart: w.win.Start.UTC(), WindowEnd: w.win.End.UTC(), Part: w.part, Object: w.object(), Format: w.o.format.Ext(),
		Records: w.n, SourceCount: src.Count, Completeness: src.Completeness, SHA256: w.dg.sum(), Bytes: w.dg.n, ExporterVersion: w.o.Version,
		ExportedAt: w.o.now(), Categories: w.cats}
	if w.o.Only != nil {
		// The API counts no class: what it said of the window is not
		// what this object should hold.
		m.Selection, m.SourceCount = w.o.Only.Name, -1
	}
	if v, ok := w.st.(Versioned); ok {
		m.ObjectVersion = v.VersionID()
	}
	if err := w.o.writeManifest(context.WithoutCancel(ctx), k, m); err != nil {
		return fmt.Errorf("sink %s: %w", name, err)
	}
	return nil
}

// writeManifest stores m beside its object, once: a manifest that is
// there already (another process committed the same part) is left as it is.
func (o *Output) writeManifest(ctx context.Context, k Keeper, m evidence.Manifest) error {
	b, _, err := evidence.Encode(m, o.Signer)
	if err == nil {
		_, err = k.Create(ctx, PartManifestName(m.Window(), o.format.Ext(), m.Part), b)
	}
	if err != nil {
		return fmt.Errorf("manifest of %s: %w", m.Object, err)
	}
	return nil
}

// Abort implements Writer.
func (w *writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if a, ok := w.enc.(Aborter); ok {
		a.Abort() // an encoder writing beside the caller stops first
	}
	return w.st.Discard()
}

// archive reads a Keeper's windows back and seals their days.
type archive struct {
	o *Output
	k Keeper
}

// ReadManifest implements Archive.
func (v archive) ReadManifest(ctx context.Context, w audit.Window) (evidence.Manifest, bool, error) {
	return v.readPart(ctx, w, 0)
}

// readPart reads the manifest of w's part.
func (v archive) readPart(ctx context.Context, w audit.Window, part int) (evidence.Manifest, bool, error) {
	r, found, err := v.k.Get(ctx, PartManifestName(w, v.o.format.Ext(), part))
	if err != nil || !found {
		return evidence.Manifest{}, false, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxManifestBytes))
	if err != nil {
		return evidence.Manifest{}, false, err
	}
	m, err := evidence.DecodeManifest(b, w, v.o.format.Ext(), part, v.o.partName(w, part), v.o.Keys)
	return m, err == nil, err
}

// Inspect implements Archive.
func (v archive) Inspect(ctx context.Context, object string) (ObjectInfo, error) {
	if v.o.inspector == nil {
		return ObjectInfo{}, nil
	}
	info, _, err := v.o.inspector.Inspect(ctx, object)
	return info, err
}

// Checksum implements Archive: it reads the whole object.
func (v archive) Checksum(ctx context.Context, object string) (string, int64, bool, error) {
	r, found, err := v.k.Get(ctx, object)
	if err != nil || !found {
		return "", 0, false, err
	}
	defer r.Close()
	sum, n, err := checksumOf(r)
	return sum, n, err == nil, err
}

// Records implements Archive: an object that is not a local file is
// copied to an unlinked temporary file first (Parquet is read from its
// end), then decoded.
func (v archive) Records(ctx context.Context, object string, fn func(audit.Record) error) error {
	r, found, err := v.k.Get(ctx, object)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no object %s", object)
	}
	defer r.Close()
	if ra, ok := r.(LocalFile); ok {
		// A local file already reads at offsets: no copy.
		fi, err := ra.Stat()
		if err != nil {
			return err
		}
		return v.o.format.Read(ra, fi.Size(), fn)
	}
	f, err := stage.File("")
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	n, err := io.Copy(f, r)
	if err != nil {
		return err
	}
	return v.o.format.Read(f, n, fn)
}
