package ocsf_test

import (
	"bytes"
	"github.com/auditlog-exporter/auditlog-exporter/internal/ocsfschema"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/internal/duckdbtest"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/go-json-experiment/json"
)

// encode writes recs in format f.
func encode(t *testing.T, f sinks.Format, recs []audit.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := f.NewEncoder(&buf, audit.Window{Account: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jsonEvents decodes JSON lines into events as maps.
func jsonEvents(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// Every event written from both simulators' messages and odd ones
// validates against the published OCSF 1.1.0 schema, and reads back to its
// record.
func TestEventsValidate(t *testing.T) {
	recs := corpus()
	lines := bytes.Split(bytes.TrimSuffix(encode(t, sinks.JSONL{Schema: ocsf.Schema}, recs), []byte("\n")), []byte("\n"))
	if len(lines) != len(recs) {
		t.Fatalf("%d lines for %d records", len(lines), len(recs))
	}
	for i, line := range lines {
		checkLine(t, line)
		back, err := ocsf.Schema.ParseJSON(line)
		if err != nil || !reflect.DeepEqual(back, recs[i]) {
			t.Fatalf("line %d reads back %+v, %v; want %+v", i, back, err, recs[i])
		}
	}
}

// DuckDB, an independent Parquet reader, reads OCSF Parquet back as the
// very events JSON lines hold: the same attributes, types and values.
func TestOCSFParquetReadByDuckDB(t *testing.T) {
	recs := corpus()
	file := filepath.Join(t.TempDir(), "events.ocsf.parquet")
	if err := os.WriteFile(file, encode(t, sinks.Parquet{Version: "t", RowGroupRows: 1000, Schema: ocsf.Schema}, recs), 0o600); err != nil {
		t.Fatal(err)
	}
	want := jsonEvents(t, encode(t, sinks.JSONL{Schema: ocsf.Schema}, recs))

	types := map[string]string{}
	for _, row := range duckdbtest.Query(t, "DESCRIBE SELECT * FROM read_parquet('"+file+"', hive_partitioning = false)") {
		types[row["column_name"].(string)] = row["column_type"].(string)
	}
	for col, typ := range map[string]string{"time": "BIGINT", "type_uid": "BIGINT", "class_uid": "INTEGER", "activity_id": "INTEGER",
		"severity_id": "INTEGER", "status_id": "INTEGER", "raw_data": "VARCHAR"} {
		if types[col] != typ {
			t.Errorf("DuckDB sees %s as %q, want %s", col, types[col], typ)
		}
	}
	if !strings.HasPrefix(types["metadata"], "STRUCT(") || !strings.Contains(types["metadata"], "profiles VARCHAR[]") {
		t.Errorf("DuckDB sees metadata as %s", types["metadata"])
	}
	if !strings.HasPrefix(types["unmapped"], "STRUCT(sap_category VARCHAR,") || !strings.Contains(types["unmapped"], "sap_raw_data VARCHAR") {
		t.Errorf("DuckDB sees unmapped as %s", types["unmapped"])
	}

	rows := duckdbtest.Query(t, "SELECT to_json(e)::VARCHAR AS j FROM read_parquet('"+file+"', hive_partitioning = false) e")
	if len(rows) != len(want) {
		t.Fatalf("DuckDB reads %d events, want %d", len(rows), len(want))
	}
	classes := map[float64]int{}
	for i, row := range rows {
		var got map[string]any
		if err := json.Unmarshal([]byte(row["j"].(string)), &got); err != nil {
			t.Fatal(err)
		}
		ocsfschema.DropAbsent(got)
		if !reflect.DeepEqual(got, want[i]) {
			g, _ := json.Marshal(got, json.Deterministic(true))
			w, _ := json.Marshal(want[i], json.Deterministic(true))
			for k := range want[i] {
				if !reflect.DeepEqual(got[k], want[i][k]) {
					t.Errorf("%s: DuckDB %v, JSON lines %v", k, got[k], want[i][k])
				}
			}
			t.Fatalf("event %d: DuckDB reads\n%s\nJSON lines hold\n%s", i, g, w)
		}
		b, _ := json.Marshal(got)
		checkLine(t, b) // what a Parquet reader sees validates too
		classes[got["class_uid"].(float64)]++
	}
	var seen []float64
	for c := range classes {
		seen = append(seen, c)
	}
	slices.Sort(seen)
	if !reflect.DeepEqual(seen, []float64{3002, 6003, 6005}) {
		t.Fatalf("classes %v: the corpus should reach every class", classes)
	}
}
