package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stream of test2json events: a pass, a failing subtest with its log, a
// skip with its reason, a package that failed outside any test.
func TestSummary(t *testing.T) {
	events := []event{
		{Action: "run", Package: "p", Test: "TestOK"},
		{Action: "output", Package: "p", Test: "TestOK", Output: "=== RUN   TestOK\n"},
		{Action: "output", Package: "p", Test: "TestOK", Output: "--- PASS: TestOK (0.00s)\n"},
		{Action: "pass", Package: "p", Test: "TestOK"},
		{Action: "output", Package: "p", Test: "TestBad/sub", Output: "    x_test.go:9: got 1, want 2\n"},
		{Action: "output", Package: "p", Test: "TestBad/sub", Output: "    --- FAIL: TestBad/sub (0.00s)\n"},
		{Action: "fail", Package: "p", Test: "TestBad/sub"},
		{Action: "output", Package: "p", Test: "TestBad", Output: "--- FAIL: TestBad (0.00s)\n"},
		{Action: "fail", Package: "p", Test: "TestBad"},
		{Action: "output", Package: "p", Test: "TestS3", Output: "=== RUN   TestS3\n"},
		{Action: "output", Package: "p", Test: "TestS3", Output: "    s3test.go:79: versitygw not found (in CI this fails instead of skipping)\n"},
		{Action: "output", Package: "p", Test: "TestS3", Output: "--- SKIP: TestS3 (0.00s)\n"},
		{Action: "skip", Package: "p", Test: "TestS3"},
		{Action: "output", Package: "p", Output: "PASS\n"},
		{Action: "output", Package: "p", Output: "FAIL\tp\t0.01s\n"},
		{Action: "fail", Package: "p"},
		{Action: "build-output", ImportPath: "q", Output: "q/x.go:1:1: expected 'package'\n"},
		{Action: "build-fail", ImportPath: "q"},
		{Action: "output", Package: "q", Output: "FAIL\tq [setup failed]\n"},
		{Action: "fail", Package: "q"},
	}
	var out strings.Builder
	s := newSummary(&out)
	for _, e := range events {
		s.add(e)
	}
	s.report()
	got := out.String()
	for _, want := range []string{
		"x_test.go:9: got 1, want 2\n    --- FAIL: TestBad/sub",
		"--- FAIL: TestBad (0.00s)\n",
		"FAIL\tp\t0.01s\n",
		"q/x.go:1:1: expected 'package'\n",
		"tests: 1 passed, 2 failed, 1 skipped",
		"packages failed:\n  p\n  q\n",
		"skipped:\n  p TestS3: s3test.go:79: versitygw not found",
		"in CI (CI=true) such a skip is a failure",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	// What `go test` without -v does not print: passing tests, RUN lines,
	// the bare PASS.
	for _, line := range strings.Split(got, "\n") {
		if strings.Contains(line, "--- PASS") || strings.HasPrefix(line, "=== RUN") || line == "PASS" {
			t.Errorf("summary shows %q:\n%s", line, got)
		}
	}
	if s.ok() {
		t.Fatal("a failed run reads as ok")
	}
}

// The exit status: 0 only when the command succeeded and nothing failed;
// non-zero when a test failed, and when the command failed with no failure
// in its output.
func TestRunExitStatus(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, events []event, exit int) string {
		var b strings.Builder
		for _, e := range events {
			j, _ := json.Marshal(e)
			b.Write(j)
			b.WriteByte('\n')
		}
		data := filepath.Join(dir, name+".json")
		if err := os.WriteFile(data, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return "cat " + data + "; exit " + string(rune('0'+exit))
	}
	pass := []event{{Action: "pass", Package: "p", Test: "TestA"}, {Action: "pass", Package: "p"}}
	fail := []event{{Action: "fail", Package: "p", Test: "TestA"}, {Action: "fail", Package: "p"}}
	for _, c := range []struct {
		name   string
		script string
		want   int
	}{
		{"all passed", write("pass", pass, 0), 0},
		{"a test failed", write("fail", fail, 1), 1},
		{"a failure the events do not show", write("odd", pass, 2), 1},
		{"failures but exit 0", write("lying", fail, 0), 1},
	} {
		var out, errOut strings.Builder
		if got := run([]string{"sh", "-c", c.script}, &out, &errOut); got != c.want {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.name, got, c.want, out.String(), errOut.String())
		}
	}
}
