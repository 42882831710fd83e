package sinks_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

func encodeParquet(t *testing.T, f sinks.Parquet, w audit.Window, recs []audit.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := f.NewEncoder(&buf, w)
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

// The Parquet schema is part of the product contract: pin it.
func TestParquetSchemaGolden(t *testing.T) {
	w := sinktest.Window("abc123xyz", 0)
	data := encodeParquet(t, sinks.Parquet{Version: "v-test"}, w, sinktest.Records(w, 10, "s"))
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Schema().String()
	golden := filepath.Join("testdata", "schema.parquet.txt")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, _ := os.ReadFile(golden)
	if got != string(want) {
		t.Fatalf("schema:\n%s\nwant:\n%s", got, want)
	}
	// Column details the schema string does not show.
	for _, col := range f.Metadata().Schema {
		if col.Name == "time" {
			lt := col.LogicalType.String()
			if !strings.Contains(lt, "isAdjustedToUTC=true") || !strings.Contains(lt, "MILLIS") {
				t.Fatalf("time column logical type %s, want TIMESTAMP(MILLIS, UTC)", lt)
			}
		}
	}
	dict := map[string]bool{}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			for _, enc := range cc.MetaData.Encoding {
				//lint:ignore SA1019 files may still mark dictionary pages with the older encoding; either is a dictionary
				if enc == format.RLEDictionary || enc == format.PlainDictionary {
					dict[cc.MetaData.PathInSchema[0]] = true
				}
			}
			if cc.MetaData.Codec != format.Zstd {
				t.Fatalf("column %v codec %v, want zstd by default", cc.MetaData.PathInSchema, cc.MetaData.Codec)
			}
		}
	}
	for _, c := range []string{"category", "tenant", "account", "application", "format_version"} {
		if !dict[c] {
			t.Errorf("column %s is not dictionary encoded", c)
		}
	}
	for _, c := range []string{"uuid", "message"} {
		if dict[c] {
			t.Errorf("column %s should not be dictionary encoded", c)
		}
	}
}

func TestParquetFooterAndRowGroups(t *testing.T) {
	w := sinktest.Window("abc123xyz", 0)
	recs := sinktest.Records(w, 2345, "f")
	data := encodeParquet(t, sinks.Parquet{Version: "v-test", RowGroupRows: 1000, Compression: "snappy"}, w, recs)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n != 3 {
		t.Fatalf("%d row groups, want 3 of at most 1000 rows", n)
	}
	var back []audit.Record
	meta, err := sinks.ReadParquet(bytes.NewReader(data), int64(len(data)), func(r audit.Record) error { back = append(back, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{sinks.MetaAccount: "abc123xyz", sinks.MetaWindowStart: "2026-11-24T10:00:00Z", sinks.MetaWindowEnd: "2026-11-24T11:00:00Z", sinks.MetaRecords: "2345", sinks.MetaVersion: "v-test"}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("footer %s = %q, want %q", k, meta[k], v)
		}
	}
	for i := range recs {
		if !back[i].Equal(&recs[i]) {
			t.Fatalf("row %d: %+v", i, back[i])
		}
	}
}

func TestParquetBadCompression(t *testing.T) {
	if _, err := (sinks.Parquet{Compression: "lz77"}).NewEncoder(&bytes.Buffer{}, audit.Window{}); err == nil {
		t.Fatal("accepted unknown codec")
	}
}

// Free-text and random-id columns carry no page bounds nor statistics, and
// every column a schema names as such exists (a path that names no column
// would silently keep them).
func TestParquetUnboundedColumns(t *testing.T) {
	w := sinktest.Window("abc123xyz", 0)
	recs := sinktest.Records(w, 50, "s")
	for _, s := range []schema.Schema{sap.Schema, ocsf.Schema} {
		t.Run(s.Name(), func(t *testing.T) {
			data := encodeParquet(t, sinks.Parquet{Version: "v-test", Schema: s}, w, recs)
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			unbounded := s.Parquet().Unbounded()
			if len(unbounded) == 0 {
				t.Fatal("no unbounded columns")
			}
			skip := map[int]string{}
			for _, col := range unbounded {
				leaf, ok := f.Schema().Lookup(strings.Split(col, ".")...)
				if !ok {
					t.Fatalf("unbounded column %q is not a column of the %s schema", col, s.Name())
				}
				skip[leaf.ColumnIndex] = col
			}
			bounded := 0
			for _, rg := range f.Metadata().RowGroups {
				for i, cc := range rg.Columns {
					st := cc.MetaData.Statistics
					has := len(st.MinValue) > 0 || len(st.MaxValue) > 0 || len(st.Min) > 0 || len(st.Max) > 0
					col, skipped := skip[i]
					if skipped && has {
						t.Errorf("column %s has statistics", col)
					}
					if !skipped && has {
						bounded++
					}
				}
			}
			if bounded == 0 {
				t.Fatal("no column has statistics: the test reads them wrong")
			}
		})
	}
}
