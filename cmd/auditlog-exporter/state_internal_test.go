package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/exporter"
)

// With hundreds of accounts, state show prints a summary and the accounts
// that are behind, most behind first; --all lists every one.
func TestWriteStatesSummarizesMany(t *testing.T) {
	wm := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var states []exporter.AccountState
	for i := range 300 {
		due := 1
		if i%10 == 0 {
			due = 2 + i/10 // 30 accounts behind, acct290 the most
		}
		states = append(states, exporter.AccountState{Account: fmt.Sprintf("acct%03d", i), Saved: true, Watermark: wm, Window: "1h0m0s", WindowsDue: due, Behind: fmt.Sprintf("%dh0m0s", due)})
	}
	var b strings.Builder
	if err := writeStates(&b, states, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(out, "300 accounts: 270 up to date (at most one window due), 30 behind (up to 31 windows due)") ||
		!strings.HasPrefix(lines[2], "acct290") || len(lines) != 1+1+20+1 || !strings.Contains(lines[len(lines)-1], "10 more behind") || strings.Contains(out, "acct001") {
		t.Fatalf("summary:\n%s", out)
	}
	b.Reset()
	writeStates(&b, states, true)
	if n := strings.Count(b.String(), "\n"); n != 301 {
		t.Fatalf("--all: %d lines", n)
	}
	b.Reset()
	writeStates(&b, states[:5], false)
	if strings.Contains(b.String(), "accounts:") || strings.Count(b.String(), "\n") != 6 {
		t.Fatalf("a few accounts are listed whole:\n%s", b.String())
	}
}
