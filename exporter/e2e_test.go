package exporter_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// TestRunEndToEnd: the whole path the other tests of this package take in
// memory, once for real: the Neo client over HTTP against the simulator
// (tokens, pages, counts as the API sends them), a file sink (files
// fsynced and linked into place) and the state file. Every due window is
// exported once, the empty one too, and a second run finds nothing due.
func TestRunEndToEnd(t *testing.T) {
	sim := neosim.New(neosim.Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: func() time.Time { return now }})
	sim.Add(nil, accountRecords("acct")...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	src, err := odata.New(odata.Config{APIURL: srv.URL, Account: "acct", ClientID: "id", ClientSecret: "secret", InitialBackoff: time.Millisecond}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store, err := state.OpenFile(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	out := filepath.Join(dir, "out")
	ex := func() *exporter.Exporter {
		return exporter.New(exporter.Options{
			Accounts: []exporter.Account{{Name: "acct", Source: src}}, Sinks: []sinks.Sink{file.NewSink(out, sinks.JSONL{})}, Store: store,
			Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "-6h", Version: "test",
			Log: zerolog.Nop(), Now: func() time.Time { return now },
		})
	}
	res, err := ex().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	watermark := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	if len(res) != 1 || res[0].Windows != 6 || !res[0].Watermark.Equal(watermark) {
		t.Fatalf("result %+v", res)
	}
	files, _ := filepath.Glob(filepath.Join(out, "account=acct", "date=*", "*.jsonl"))
	if len(files) != 6 {
		t.Fatalf("%d files, want 6 (the empty window too)", len(files))
	}
	got := map[string]audit.Record{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		err = sinks.ReadJSONL(fh, false, func(r audit.Record) error {
			if _, dup := got[r.UUID]; dup {
				t.Fatalf("record %s exported twice", r.UUID)
			}
			got[r.UUID] = r
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	want := sim.Records("acct", time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), watermark)
	if len(got) != len(want) {
		t.Fatalf("exported %d records, the simulator holds %d", len(got), len(want))
	}
	for _, w := range want {
		if g, ok := got[w.UUID]; !ok || !g.Equal(&w) {
			t.Fatalf("record %s: got %+v want %+v", w.UUID, g, w)
		}
	}
	if res, err := ex().Run(context.Background()); err != nil || res[0].Windows != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if st, _ := store.Load(context.Background(), "acct"); st.Window != time.Hour || !st.Watermark.Equal(watermark) {
		t.Fatalf("state %+v", st)
	}
}
