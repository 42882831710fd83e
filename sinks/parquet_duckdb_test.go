package sinks_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/internal/duckdbtest"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
)

// duckdbDir returns a directory whose node_modules holds @duckdb/node-api
// (`make tools` installs it), skipping locally and failing in CI without it.
// An independent Parquet implementation reads our files back with the
// schema's types and every value intact.
func TestParquetReadByDuckDB(t *testing.T) {
	dir := duckdbtest.Dir(t)
	for _, codec := range []string{"zstd", "snappy", "none"} {
		t.Run(codec, func(t *testing.T) {
			outDir := t.TempDir()
			s := file.NewSink(outDir, sinks.Parquet{Compression: codec, Version: "t", RowGroupRows: 1000})
			w := sinktest.Window("abc123xyz", 0)
			recs := sinktest.Records(w, 2500, "duck")
			wr, err := s.Open(t.Context(), w)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				wr.Write(&recs[i])
			}
			if err := wr.Commit(t.Context(), sinks.Source{Count: -1}); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("node", filepath.Join("testdata", "duckdb-read.cjs"), file.New(outDir).Path(s.ObjectName(w)))
			cmd.Env = append(os.Environ(), "DUCKDB_NODE_DIR="+dir)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("duckdb: %v %s", err, out)
			}
			var res struct {
				Schema []struct {
					Name string `json:"column_name"`
					Type string `json:"column_type"`
				} `json:"schema"`
				Rows []map[string]*string `json:"rows"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			types := map[string]string{}
			for _, c := range res.Schema {
				types[c.Name] = c.Type
			}
			if types["time"] != "TIMESTAMP WITH TIME ZONE" || types["uuid"] != "VARCHAR" || types["instance_id"] != "VARCHAR" || types["org_id"] != "VARCHAR" || types["source"] != "VARCHAR" || len(types) != 15 {
				t.Fatalf("DuckDB sees schema %v", types)
			}
			sort.Slice(recs, func(i, j int) bool { return recs[i].UUID < recs[j].UUID })
			if len(res.Rows) != len(recs) {
				t.Fatalf("DuckDB reads %d rows, want %d", len(res.Rows), len(recs))
			}
			for i, row := range res.Rows {
				ms, _ := strconv.ParseInt(*row["ms"], 10, 64)
				got := audit.Record{UUID: *row["uuid"], Category: *row["category"], User: *row["user"], Tenant: *row["tenant"], Account: *row["account"],
					Message: *row["message"], InstanceID: row["instance_id"], FormatVersion: *row["format_version"]}
				switch src := *row["source"]; {
				case src == "cf" && row["application"] == nil:
					got.CF = &audit.CFFields{OrgID: *row["org_id"], SpaceID: *row["space_id"], AppOrServiceID: *row["app_or_service_id"], ALSServiceID: *row["als_service_id"]}
				case src == "neo" && row["application"] != nil && row["org_id"] == nil && row["als_service_id"] == nil:
					got.Application = *row["application"]
				default:
					t.Fatalf("row %d: source %q with application %v, org_id %v", i, src, row["application"], row["org_id"])
				}
				got.Time = recs[i].Time
				if ms != recs[i].Time.UnixMilli() || !got.Equal(&recs[i]) {
					t.Fatalf("row %d: DuckDB reads %+v (ms %d), want %+v", i, got, ms, recs[i])
				}
			}
		})
	}
}
