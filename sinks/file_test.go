package sinks_test

import (
	"bytes"
	"errors"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
)

func fileHarness(format sinks.Format) sinktest.Harness {
	return sinktest.Harness{
		New: func(t *testing.T) sinks.Sink { return sinks.NewFile(t.TempDir(), format) },
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
			dest := s.(*sinks.Output).Destination().(*sinks.FileDest)
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

func TestObjectName(t *testing.T) {
	w := audit.Window{Account: "abc123xyz", Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)}
	if got := sinks.ObjectName(w, "parquet"); got != "account=abc123xyz/date=2026-11-24/abc123xyz_20261124T100000Z_20261124T110000Z.parquet" {
		t.Fatalf("ObjectName = %s", got)
	}
}

func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	s := sinks.NewFile(filepath.Join(dir, "out"), sinks.JSONL{})
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
	s := sinks.NewFile(dir, sinks.JSONL{})
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

// The JSON lines golden file pins the exact output format.
func TestJSONLGolden(t *testing.T) {
	id := "i-1"
	recs := []audit.Record{
		{UUID: "3b8a8b-16247c70836-8", Time: time.Date(2018, 3, 21, 9, 0, 40, 572999999, time.UTC), Category: "audit.data-access", User: "A on behalf of B", Tenant: "t", Account: "abc", Application: "app",
			Message: "Read \"x\"\nline2 \u00fc \u2028 <tag> & \x01", FormatVersion: "2.2"},
		{UUID: "u2", Time: time.Date(2018, 3, 21, 9, 0, 41, 0, time.UTC), Category: "audit.configuration", User: "", InstanceID: &id, FormatVersion: "2.2"},
		{UUID: "cf-5d0b", Time: time.Date(2018, 10, 4, 8, 12, 0, 239e6, time.UTC), Category: "audit.security-events", User: "u@example.com", Tenant: "t", Account: "my-sub",
			Message: `{"ip":"1.2.3.4","data":"x"}`, FormatVersion: "", CF: &audit.CFFields{OrgID: "org-1", SpaceID: "", AppOrServiceID: "app-1", ALSServiceID: "als-1"}},
	}
	var buf bytes.Buffer
	enc, _ := sinks.JSONL{}.NewEncoder(&buf, audit.Window{})
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	enc.Close()
	golden := filepath.Join("testdata", "records.jsonl")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("output differs from %s:\n%s\nwant\n%s", golden, buf.Bytes(), want)
	}
	var back []audit.Record
	if err := sinks.ReadJSONL(bytes.NewReader(want), false, func(r audit.Record) error { back = append(back, r); return nil }); err != nil {
		t.Fatal(err)
	}
	recs[0].Time = recs[0].Time.Truncate(time.Millisecond)
	for i := range recs {
		if !back[i].Equal(&recs[i]) {
			t.Fatalf("round trip %d: %+v", i, back[i])
		}
	}
}

func TestReadJSONLRejects(t *testing.T) {
	for _, in := range []string{
		`{"uuid":"a","time":"2018-03-21T09:00:40.572Z"}`,                     // no newline
		`{"uuid":"a","time":"2018-03-21T09:00:40Z","extra":1}` + "\n",        // unknown field
		`{"uuid":"a","time":"yesterday"}` + "\n",                             // bad time
		`not json` + "\n",                                                    // garbage
		`{"uuid":"a","time":"2018-03-21T09:00:40.572Z"} {"uuid":"b"}` + "\n", // two objects
	} {
		if err := sinks.ReadJSONL(strings.NewReader(in), false, func(audit.Record) error { return nil }); err == nil {
			t.Errorf("ReadJSONL(%q) accepted", in)
		}
	}
}

// Two runs exporting the same window at once (a backfill overlapping the
// schedule) do not break each other: one commits, the other is refused
// (ErrExists) and replaces nothing; the object is whole.
func TestConcurrentWritersSameWindow(t *testing.T) {
	for name, s := range map[string]sinks.Sink{
		"file": sinks.NewFile(t.TempDir(), sinks.JSONL{}),
	} {
		t.Run(name, func(t *testing.T) { concurrentSameWindow(t, s, fileHarness(sinks.JSONL{}).Read) })
	}
}

func concurrentSameWindow(t *testing.T, s sinks.Sink, read func(*testing.T, sinks.Sink, audit.Window) ([]audit.Record, bool)) {
	w := sinktest.Window("acct", 0)
	recs := sinktest.Records(w, 2000, "same")
	a, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := a.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
		if err := b.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(t.Context(), sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(t.Context(), sinks.Source{Count: -1}); !errors.Is(err, sinks.ErrExists) {
		t.Fatalf("the second commit of the same object: %v; want ErrExists", err)
	}
	got, _ := read(t, s, w)
	if len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
}

// Odd but valid records survive every format: a 10 MB message, times
// before 1970 and in year 9999.
func TestOddRecordsRoundTrip(t *testing.T) {
	w := audit.Window{Account: "a", Start: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(1960, 1, 1, 1, 0, 0, 0, time.UTC)}
	recs := []audit.Record{
		{UUID: "big", Time: time.Date(1960, 1, 1, 0, 0, 0, 1e6, time.UTC), Message: strings.Repeat("ü\"\n", 10<<20/4), FormatVersion: "2.2"},
		{UUID: "far", Time: time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), FormatVersion: "2.2"},
	}
	for _, f := range []sinks.Format{sinks.JSONL{}, sinks.JSONL{Gzip: true}, sinks.Parquet{}} {
		var buf bytes.Buffer
		enc, _ := f.NewEncoder(&buf, w)
		for i := range recs {
			if err := enc.Encode(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		var back []audit.Record
		if err := sinks.ReadObject(f.Ext(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), func(r audit.Record) error { back = append(back, r); return nil }); err != nil {
			t.Fatalf("%s: %v", f.Ext(), err)
		}
		for i := range recs {
			if len(back) != len(recs) || !back[i].Equal(&recs[i]) {
				t.Fatalf("%s: record %d did not survive", f.Ext(), i)
			}
		}
	}
}

// A killed run's temporary file of another window of the same day is
// removed too (the watermark may have moved past that window).
func TestStaleTempOfOtherWindowRemoved(t *testing.T) {
	s := sinks.NewFile(t.TempDir(), sinks.JSONL{})
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
	s := sinks.NewFile(t.TempDir(), sinks.JSONL{})
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
	return o.Destination().(*sinks.FileDest).Path(o.ObjectName(w))
}
