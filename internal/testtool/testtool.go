// Package testtool decides what a test does when a real component it needs
// (an S3 server, DuckDB, a browser, buildah) is not installed: skip on a
// developer's machine, fail in CI (CI=true), where .ci/run installs
// everything and a skip would count a test that never ran as passing.
package testtool

import (
	"os"
	"testing"
)

// Missing ends t because a tool is missing; msg says which and how to get it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": in CI a missing tool fails the test (.ci/run installs it)")
		return
	}
	t.Skip(msg + " (in CI this fails instead of skipping)")
}
