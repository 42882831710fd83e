package file_test

import (
	"bytes"
	"errors"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
)

func fileHarness(format sinks.Format) sinktest.Harness {
	return sinktest.Harness{
		New: func(t *testing.T) sinks.Sink { return file.NewSink(t.TempDir(), format) },
		Read: func(t *testing.T, s sinks.Sink, w audit.Window) ([]audit.Record, bool) {
			b, err := os.ReadFile(filePath(s, w))
			if os.IsNotExist(err) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			var out []audit.Record
			if err := format.Read(bytes.NewReader(b), int64(len(b)), func(r audit.Record) error { out = append(out, r); return nil }); err != nil {
				t.Fatal(err)
			}
			return out, true
		},
		List: func(t *testing.T, s sinks.Sink) []string {
			root := strings.TrimSuffix(strings.TrimPrefix(s.Name(), "file:"), " "+format.Ext())
			var names []string
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(root, p)
					names = append(names, filepath.ToSlash(rel))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return names
		},
		Keeper: func(s sinks.Sink) sinks.Keeper { return s.(*sinks.Output).Keeper() },
		DropManifest: func(t *testing.T, s sinks.Sink, name string) {
			dest := s.(*sinks.Output).Destination().(*file.Dest)
			if err := os.Remove(dest.Path(name)); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func TestFileJSONL(t *testing.T)     { sinktest.Run(t, fileHarness(sinks.JSONL{})) }
func TestFileJSONLGzip(t *testing.T) { sinktest.Run(t, fileHarness(sinks.JSONL{Gzip: true})) }
func TestFileParquet(t *testing.T) {
	for _, c := range []string{"zstd", "snappy", "none"} {
		t.Run(c, func(t *testing.T) {
			sinktest.Run(t, fileHarness(sinks.Parquet{Compression: c, Version: "test", RowGroupRows: 1000}))
		})
	}
}

// OCSF events pass the same conformance suite: the commit layer does not
// depend on the schema.
func TestFileOCSF(t *testing.T) {
	for _, f := range []sinks.Format{sinks.JSONL{Schema: ocsf.Schema}, sinks.JSONL{Gzip: true, Schema: ocsf.Schema}, sinks.Parquet{Version: "test", RowGroupRows: 1000, Schema: ocsf.Schema}} {
		t.Run(f.Ext(), func(t *testing.T) { sinktest.Run(t, fileHarness(f)) })
	}
}

func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	s := file.NewSink(filepath.Join(dir, "out"), sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	wr, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.Commit(t.Context(), sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filePath(s, w))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v", fi.Mode(), err)
	}
	di, _ := os.Stat(filepath.Dir(filePath(s, w)))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", di.Mode())
	}
}

// A temporary file left by a killed run is removed by the next export of
// the same window.
func TestStaleTempFileRemoved(t *testing.T) {
	dir := t.TempDir()
	s := file.NewSink(dir, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	final := filePath(s, w)
	os.MkdirAll(filepath.Dir(final), 0o700)
	stale := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp-deadbeef0000")
	os.WriteFile(stale, []byte("partial"), 0o600)
	wr, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temp file still there")
	}
	wr.Abort()
}

// Two runs exporting the same window at once (a backfill overlapping the
// schedule) do not break each other: one commits, the other is refused
// (ErrExists) and replaces nothing; the object is whole.
func TestConcurrentWritersSameWindow(t *testing.T) {
	for name, s := range map[string]sinks.Sink{
		"file": file.NewSink(t.TempDir(), sinks.JSONL{}),
	} {
		t.Run(name, func(t *testing.T) { sinktest.ConcurrentSameWindow(t, s, fileHarness(sinks.JSONL{}).Read) })
	}
}

// A killed run's temporary file of another window of the same day is
// removed too (the watermark may have moved past that window).
func TestStaleTempOfOtherWindowRemoved(t *testing.T) {
	s := file.NewSink(t.TempDir(), sinks.JSONL{})
	w0, w1 := sinktest.Window("acct", 0), sinktest.Window("acct", 1)
	other := filePath(s, w1)
	os.MkdirAll(filepath.Dir(other), 0o700)
	stale := filepath.Join(filepath.Dir(other), "."+filepath.Base(other)+".tmp-0123456789ab")
	os.WriteFile(stale, []byte("partial"), 0o600)
	live, err := s.Open(t.Context(), w1) // a writer of w1 still going
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	wr, err := s.Open(t.Context(), w0)
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Abort()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temporary file of another window still there")
	}
	temps, _ := filepath.Glob(filepath.Join(filepath.Dir(other), ".*.tmp-*"))
	if len(temps) != 2 {
		t.Fatalf("the live writers' files must stay: %v", temps)
	}
}

// Windows of one day commit while other windows of that day open (and
// clean up what killed runs left there): no commit loses its temporary
// file to another window's cleanup.
func TestCommitsRaceOtherWindowsCleanup(t *testing.T) {
	s := file.NewSink(t.TempDir(), sinks.JSONL{})
	const workers, rounds = 8, 40
	errs := make(chan error, workers)
	for g := range workers {
		go func() {
			for i := range rounds {
				w := sinktest.Window("acct", (g*rounds+i)%24)
				wr, err := s.Open(t.Context(), w)
				if err == nil {
					recs := sinktest.Records(w, 3, "race")
					for j := range recs {
						if err = wr.Write(&recs[j]); err != nil {
							break
						}
					}
				}
				if err == nil {
					err = wr.Commit(t.Context(), sinks.Source{Count: -1})
				}
				if errors.Is(err, sinks.ErrExists) {
					err = nil // the window was committed in an earlier round
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// filePath is where a file sink publishes window w.
func filePath(s sinks.Sink, w audit.Window) string {
	o := s.(*sinks.Output)
	return o.Destination().(*file.Dest).Path(o.ObjectName(w))
}
