package sinks_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

func TestObjectName(t *testing.T) {
	w := audit.Window{Account: "abc123xyz", Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)}
	if got := sinks.ObjectName(w, "parquet"); got != "account=abc123xyz/date=2026-11-24/abc123xyz_20261124T100000Z_20261124T110000Z.parquet" {
		t.Fatalf("ObjectName = %s", got)
	}
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

// An encoder may be given the same record again and again, its fields and
// what its pointers point to overwritten in place (as a page decoder does):
// every row keeps what the record held when it was encoded.
func TestEncodeOfAReusedRecord(t *testing.T) {
	w := audit.Window{Account: "a", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}
	var want []audit.Record
	for i := range 2000 {
		r := audit.Record{UUID: fmt.Sprintf("u%04d", i), Time: w.Start.Add(time.Duration(i) * time.Second), Account: "a",
			Category: "audit.configuration", Message: fmt.Sprintf(`{"object":{"type":"t","id":{"k":"%d"}}}`, i), FormatVersion: "2.2"}
		if i%2 == 0 {
			r.CF = &audit.CFFields{OrgID: fmt.Sprintf("org-%d", i), SpaceID: "s", AppOrServiceID: "app", ALSServiceID: "als"}
		} else {
			id := fmt.Sprintf("instance-%d", i)
			r.InstanceID, r.Application = &id, "app"
		}
		want = append(want, r)
	}
	for _, sc := range []schema.Schema{sap.Schema, ocsf.Schema} {
		for _, f := range []sinks.Format{sinks.JSONL{Schema: sc}, sinks.Parquet{Schema: sc}} {
			var buf bytes.Buffer
			enc, err := f.NewEncoder(&buf, w)
			if err != nil {
				t.Fatal(err)
			}
			// One record, overwritten in place for each.
			var r audit.Record
			var cf audit.CFFields
			var id string
			for i := range want {
				r = want[i]
				if want[i].CF != nil {
					cf, r.CF = *want[i].CF, &cf
				}
				if want[i].InstanceID != nil {
					id, r.InstanceID = *want[i].InstanceID, &id
				}
				if err := enc.Encode(&r); err != nil {
					t.Fatal(err)
				}
			}
			cf, id = audit.CFFields{OrgID: "overwritten"}, "overwritten"
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			var back []audit.Record
			if err := sinks.ReadObject(f.Ext(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), func(r audit.Record) error { back = append(back, r); return nil }); err != nil {
				t.Fatalf("%s %s: %v", sc.Name(), f.Ext(), err)
			}
			if len(back) != len(want) {
				t.Fatalf("%s %s: %d records back, want %d", sc.Name(), f.Ext(), len(back), len(want))
			}
			for i := range want {
				if !back[i].Equal(&want[i]) {
					t.Fatalf("%s %s: record %d came back as %+v, want %+v", sc.Name(), f.Ext(), i, back[i], want[i])
				}
			}
		}
	}
}
