// Command testsummary runs `go test -json ...` (its arguments are the
// command), prints what `go test` prints without -v (package results, and
// the whole output of every test that failed), then how many tests passed,
// failed and were skipped, each skip with its reason. It exits non-zero
// when the command does or any test or package failed.
//
//	go run ./internal/testsummary go test -json -race ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// event is one line of test2json's output (go doc test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output, build-fail
}

type summary struct {
	out                   io.Writer
	passed, failed, skips int
	failedPkgs            []string
	skipped               []string                    // "pkg TestX: reason"
	buffered              map[string]*strings.Builder // output of tests still running
}

// newSummary prints to out. What cannot be printed is let go (_, _ =
// throughout): the exit code still says whether the tests passed.
func newSummary(out io.Writer) *summary {
	return &summary{out: out, buffered: map[string]*strings.Builder{}}
}

func (s *summary) add(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		_, _ = fmt.Fprint(s.out, e.Output)
	case e.Action == "build-fail":
		// the package's own fail event follows
	case e.Test == "":
		// Package level: "ok", "FAIL", "--- FAIL" of TestMain, panics,
		// timeouts. The bare PASS that ends a verbose run is noise.
		if e.Action == "output" && e.Output != "PASS\n" {
			_, _ = fmt.Fprint(s.out, e.Output)
		}
		if e.Action == "fail" {
			s.failedPkgs = append(s.failedPkgs, e.Package)
		}
	case e.Action == "output":
		b := s.buffered[key]
		if b == nil {
			b = &strings.Builder{}
			s.buffered[key] = b
		}
		b.WriteString(e.Output)
	case e.Action == "pass":
		s.passed++
		delete(s.buffered, key)
	case e.Action == "fail":
		s.failed++
		if b := s.buffered[key]; b != nil {
			_, _ = fmt.Fprint(s.out, b.String())
		}
		delete(s.buffered, key)
	case e.Action == "skip":
		s.skips++
		s.skipped = append(s.skipped, e.Package+" "+e.Test+": "+skipReason(s.buffered[key]))
		delete(s.buffered, key)
	}
}

// skipReason is what the test logged before it skipped, on one line.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.Join(lines, " ")
}

// report prints the counts and, if any test skipped, what a skip means.
func (s *summary) report() {
	_, _ = fmt.Fprintf(s.out, "\ntests: %d passed, %d failed, %d skipped (subtests counted)\n", s.passed, s.failed, s.skips)
	if len(s.failedPkgs) > 0 {
		_, _ = fmt.Fprintf(s.out, "packages failed:\n  %s\n", strings.Join(s.failedPkgs, "\n  "))
	}
	if s.skips == 0 {
		return
	}
	sort.Strings(s.skipped)
	_, _ = fmt.Fprintln(s.out, "skipped:")
	for _, l := range s.skipped {
		_, _ = fmt.Fprintf(s.out, "  %s\n", l)
	}
	_, _ = fmt.Fprintln(s.out, "A skip means the test did not run. Locally a test skips when a tool it needs is missing (versitygw, DuckDB, chromium, buildah: `make tools` installs the first two); in CI (CI=true) such a skip is a failure.")
}

func (s *summary) ok() bool { return s.failed == 0 && len(s.failedPkgs) == 0 }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		_, _ = fmt.Fprintln(stderr, "usage: testsummary go test -json [flags] [packages]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		_, _ = fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	s := newSummary(stdout)
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if line := sc.Bytes(); json.Unmarshal(line, &e) != nil || e.Action == "" {
			_, _ = fmt.Fprintln(stdout, string(line)) // not an event: pass it on
			continue
		}
		s.add(e)
	}
	scanErr := sc.Err()
	if scanErr != nil {
		_, _ = io.Copy(io.Discard, pipe) // let the command finish
	}
	waitErr := cmd.Wait()
	s.report()
	var ee *exec.ExitError
	switch {
	case scanErr != nil:
		_, _ = fmt.Fprintln(stderr, "testsummary: reading the test output:", scanErr)
		return 1
	case waitErr != nil && !errors.As(waitErr, &ee):
		_, _ = fmt.Fprintln(stderr, "testsummary:", waitErr)
		return 1
	case waitErr != nil:
		if s.ok() {
			_, _ = fmt.Fprintf(stdout, "FAIL: %s exited with status %d\n", args[0], ee.ExitCode())
		}
		return 1
	case !s.ok():
		return 1
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
