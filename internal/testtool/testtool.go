// Package testtool decides what a test does when a real component it needs
// (an S3 server, DuckDB, a browser, buildah) is not installed: skip on a
// developer's machine, fail in CI (CI=true), where .ci/run installs
// everything and a skip would count a test that never ran as passing.
package testtool

import (
	"os"
	"sync"
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

// Subtests runs the subtests of one test, at most n at once, whatever
// -parallel says: for cases that each own their simulator, client and
// directory and spend most of their time waiting (out throttling, backoff,
// latency, a subprocess), so that running many at once costs little CPU.
// (t.Parallel would hold them to -parallel, GOMAXPROCS by default.)
// t.Run may be called from several goroutines; Wait returns when every
// subtest has returned, and must be called before the test returns.
type Subtests struct {
	t     *testing.T
	wg    sync.WaitGroup
	turns chan struct{}
}

// AtOnce returns a Subtests of t that runs at most n subtests at once.
func AtOnce(t *testing.T, n int) *Subtests {
	return &Subtests{t: t, turns: make(chan struct{}, max(n, 1))}
}

// Run starts the subtest name once fewer than n are running.
func (s *Subtests) Run(name string, fn func(t *testing.T)) {
	s.turns <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.turns; s.wg.Done() }()
		s.t.Run(name, fn)
	}()
}

// Wait returns when every subtest started has returned.
func (s *Subtests) Wait() { s.wg.Wait() }
