// Package duckdbtest runs SQL in DuckDB (for Node, an implementation of
// Parquet independent of ours) from tests: a missing DuckDB skips the test
// locally and fails it in CI (`make tools` installs it).
package duckdbtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/internal/testtool"
)

// Dir is where DuckDB for Node is installed (DUCKDB_NODE_DIR).
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DUCKDB_NODE_DIR")
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err == nil {
			if _, err := exec.LookPath("node"); err == nil {
				return dir
			}
		}
	}
	testtool.Missing(t, "DuckDB for Node not found (run `make tools`, or set DUCKDB_NODE_DIR)")
	return ""
}

const script = `const { DuckDBInstance } = require(process.env.DUCKDB_NODE_DIR + '/node_modules/@duckdb/node-api');
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const r = await con.runAndReadAll(process.argv[2]);
  console.log(JSON.stringify(r.getRowObjectsJson()));
})().catch(e => { console.error(String(e)); process.exit(1); });
`

// Query runs sql and returns its rows, every value as DuckDB renders it in
// JSON (strings; numbers as strings too for BIGINT).
func Query(t testing.TB, sql string) []map[string]any {
	t.Helper()
	dir := Dir(t)
	js := filepath.Join(t.TempDir(), "query.cjs")
	if err := os.WriteFile(js, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", js, sql)
	cmd.Env = append(os.Environ(), "DUCKDB_NODE_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("duckdb %q: %v %s", sql, err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return rows
}
