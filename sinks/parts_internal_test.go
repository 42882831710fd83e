package sinks

import (
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

func TestWindowOfManifest(t *testing.T) {
	w := audit.Window{Account: "a_b", Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a_b_20261124T100000Z_20261124T110000Z.parquet.json", true},
		{"a_b_20261124T100000Z_20261124T110000Z_delta-0001.parquet.json", true},
		{"a_b_20261124T100000Z_20261124T110000Z_delta-12345.parquet.json", true},
		{"a_b_20261124T100000Z_20261124T110000Z.jsonl.json", false},        // another format
		{"a_b_20261124T100000Z_20261124T110000Z.parquet", false},           // not a manifest
		{"c_20261124T100000Z_20261124T110000Z.parquet.json", false},        // another account
		{"a_b_20261124T110000Z_20261124T100000Z.parquet.json", false},      // ends before it starts
		{"a_b_20261124T230000Z_20261125T010000Z.parquet.json", false},      // crosses midnight
		{"a_b_20261124T100000Z_20261124T110000.parquet.json", false},       // a stamp cut short
		{"a_b_20261124T100000Z-20261124T110000Z.parquet.json", false},      // no separator
		{"a_b_2026112XT100000Z_20261124T110000Z.parquet.json", false},      // not a time
		{"a_b_20261124T100000Z_20261124T110000Z_x.parquet.json", false},    // something else appended
		{".a_b_20261124T100000Z_20261124T110000Z.parquet.json.tmp", false}, // a temporary file
	} {
		got, ok := windowOfManifest(tc.name, "a_b", "parquet")
		if ok != tc.ok || (ok && got != w) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, ok, tc.ok)
		}
	}
	// Every name this package writes reads back as its window.
	for part := range 3 {
		name := strings.TrimPrefix(PartManifestName(w, "jsonl.gz", part), "_manifests/account=a_b/date=2026-11-24/")
		if got, ok := windowOfManifest(name, "a_b", "jsonl.gz"); !ok || got != w {
			t.Errorf("part %d (%s) read back as %v %v", part, name, got, ok)
		}
	}
}

func FuzzWindowOfManifest(f *testing.F) {
	f.Add("a_20261124T100000Z_20261124T110000Z_delta-0001.parquet.json", "a")
	f.Add("a_b_20261124T100000Z_20261124T110000Z.jsonl.gz.json", "a_b")
	f.Fuzz(func(t *testing.T, name, account string) {
		w, ok := windowOfManifest(name, account, "parquet")
		if !ok {
			return
		}
		if w.Account != account || !w.End.After(w.Start) || !evidence.DayOf(w.Start).Equal(evidence.DayOf(w.End.Add(-time.Nanosecond))) {
			t.Fatalf("%q read as %v", name, w)
		}
		if p := PartName(w, "parquet", 0); !strings.HasPrefix(name, strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".parquet")) {
			t.Fatalf("%q read as %v, whose name is %s", name, w, p)
		}
	})
}
