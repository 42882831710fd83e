package sinks

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// FileSink writes each window to a file under a local directory: first to a
// hidden temporary file beside the target (".name.tmp-XXXX", ignored by
// Hive-style readers), fsynced, then renamed into place and the directory
// fsynced. Files are created 0600 and directories 0700.
type FileSink struct {
	dir    string
	format Format
	// Version is recorded in each window's manifest.
	Version string
}

var _ Sink = (*FileSink)(nil)

// NewFile returns a sink writing format under dir.
func NewFile(dir string, format Format) *FileSink {
	return &FileSink{dir: dir, format: format}
}

// Name implements Sink.
func (s *FileSink) Name() string { return "file:" + s.dir + " " + s.format.Ext() }

// Path returns where window w is (or would be) committed.
func (s *FileSink) Path(w audit.Window) string {
	return filepath.Join(s.dir, filepath.FromSlash(ObjectName(w, s.format.Ext())))
}

// Open implements Sink.
func (s *FileSink) Open(ctx context.Context, w audit.Window) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := s.Path(w)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errclass.Mark(errclass.Permanent, fmt.Errorf("sink %s: %w", s.Name(), err))
	}
	// Temporary files in this directory that no live process holds are
	// garbage from a killed run (of this window or another of the same
	// day). A writer holds an flock on its temporary file, which dies with
	// it, so the file of a run still going is left alone.
	base := filepath.Base(final)
	if old, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(old) > 0 {
		for _, o := range old {
			removeIfUnlocked(o)
		}
	}
	f, tmp, err := createLocked(filepath.Join(dir, "."+base+".tmp-"))
	if err != nil {
		return nil, errclass.Mark(errclass.Permanent, fmt.Errorf("sink %s: %w", s.Name(), err))
	}
	dg := newDigest()
	bw := bufio.NewWriterSize(io.MultiWriter(f, dg), 256<<10)
	enc, err := s.format.NewEncoder(bw, w)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
	}
	fw := &fileWriter{sink: s, win: w, f: f, bw: bw, dg: dg, tmp: tmp, final: final, source: Source{Count: -1}}
	fw.encWriter = encWriter{ctx: ctx, enc: enc, wrapErr: func(err error) error {
		return fmt.Errorf("sink %s: write %s: %w", s.Name(), tmp, err)
	}}
	return fw, nil
}

// createLocked creates prefix+random exclusively and flocks it, making sure
// no cleaner removed it between the two.
func createLocked(prefix string) (*os.File, string, error) {
	for {
		tmp := prefix + randSuffix()
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", err
		}
		// Blocking: between the create and the lock, a cleaner of another
		// window (or run) may hold the new file's lock for a moment, about
		// to remove it; wait for it, then see whether the file survived.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, "", err
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(tmp)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			return f, tmp, nil
		}
		f.Close()
	}
}

// removeIfUnlocked removes path unless a live process holds its flock.
func removeIfUnlocked(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		_ = os.Remove(path)
	}
}

type fileWriter struct {
	encWriter
	sink   *FileSink
	win    audit.Window
	f      *os.File
	bw     *bufio.Writer
	dg     *digest
	tmp    string
	final  string
	source Source
}

// SetSource implements SourceCounter.
func (w *fileWriter) SetSource(src Source) { w.source = src }

func (w *fileWriter) Commit(ctx context.Context) error {
	if w.closed {
		return errors.New("commit after commit or abort")
	}
	fail := func(op string, err error) error {
		_ = w.Abort()
		return fmt.Errorf("sink %s: %s %s: %w", w.sink.Name(), op, w.final, err)
	}
	if w.err != nil {
		return fail("commit after a failed write", w.err)
	}
	if err := ctx.Err(); err != nil {
		return fail("commit", err)
	}
	if err := w.enc.Close(); err != nil {
		return fail("finish encoding", err)
	}
	if err := w.bw.Flush(); err != nil {
		return fail("write", err)
	}
	if err := w.f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := ctx.Err(); err != nil {
		return fail("commit", err)
	}
	// Renamed while still open: the flock on the temporary file is what
	// keeps another window's cleaner from taking it for a killed run's
	// leftover, and closing releases it.
	if err := os.Rename(w.tmp, w.final); err != nil {
		return fail("rename into", err)
	}
	w.closed = true
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("sink %s: close %s: %w", w.sink.Name(), w.final, err)
	}
	if err := syncDir(filepath.Dir(w.final)); err != nil {
		return fmt.Errorf("sink %s: fsync directory of %s: %w", w.sink.Name(), w.final, err)
	}
	// The manifest follows the data: a crash in between leaves data
	// without a manifest, which verify reports and --repair rewrites.
	m, err := manifestFor(w.win, w.sink.format, w.n, w.source, w.dg, w.sink.Version)
	if err == nil {
		err = writeFileAtomic(w.sink.manifestPath(w.win), m)
	}
	if err != nil {
		return fmt.Errorf("sink %s: manifest of %s: %w", w.sink.Name(), w.final, err)
	}
	return nil
}

func (s *FileSink) manifestPath(w audit.Window) string {
	return filepath.Join(s.dir, filepath.FromSlash(ManifestName(w, s.format.Ext())))
}

// writeFileAtomic writes b to path through a temporary file, fsynced and renamed.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp-" + randSuffix()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// ReadManifest implements Verifier.
func (s *FileSink) ReadManifest(_ context.Context, w audit.Window) (Manifest, bool, error) {
	b, err := os.ReadFile(s.manifestPath(w))
	if errors.Is(err, os.ErrNotExist) {
		return Manifest{}, false, nil
	}
	if err != nil {
		return Manifest{}, false, err
	}
	m, err := DecodeManifest(b, w, s.format.Ext())
	return m, err == nil, err
}

// Checksum implements Verifier.
func (s *FileSink) Checksum(_ context.Context, w audit.Window) (string, int64, bool, error) {
	f, err := os.Open(s.Path(w))
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	defer f.Close()
	sum, n, err := checksumOf(f)
	return sum, n, err == nil, err
}

func (w *fileWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	_ = w.f.Close()
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func randSuffix() string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return hex.EncodeToString(rnd[:])
}

// syncDir fsyncs a directory so a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Probe proves the directory is writable: it creates and removes a file.
func (s *FileSink) Probe(context.Context) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return errclass.Mark(errclass.Config, fmt.Errorf("sink %s: %w", s.Name(), err))
	}
	p := filepath.Join(s.dir, ".auditlog-exporter-check-"+randSuffix())
	if err := os.WriteFile(p, []byte("probe\n"), 0o600); err != nil {
		return errclass.Mark(errclass.Config, fmt.Errorf("sink %s: %w", s.Name(), err))
	}
	return os.Remove(p)
}
