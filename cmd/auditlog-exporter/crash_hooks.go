//go:build crashhooks && unix

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
)

// crashHooks kills the process at a chosen point when
// AUDITLOG_EXPORTER_CRASH is "after-commit:N" (after the N-th window is
// committed in every sink, before its watermark is saved),
// "mid-window:N" (after the N-th record of a window was written) or
// "panic-after-commit:N". Only a binary built with -tags crashhooks (the
// crash tests build one) has them; a release binary ignores the variable.
func crashHooks() exporter.Hooks {
	spec := os.Getenv("AUDITLOG_EXPORTER_CRASH")
	point, nStr, ok := strings.Cut(spec, ":")
	n, err := strconv.Atoi(nStr)
	if !ok || err != nil || n < 1 {
		return exporter.Hooks{}
	}
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	switch point {
	case "panic-after-commit":
		// A crash of the Go runtime, from a goroutine nothing recovers.
		return exporter.Hooks{Committed: func(audit.Window) { panic("crash requested by AUDITLOG_EXPORTER_CRASH") }}
	case "after-commit":
		count := 0
		return exporter.Hooks{Committed: func(audit.Window) {
			if count++; count == n {
				kill()
			}
		}}
	case "mid-window":
		return exporter.Hooks{Wrote: func(_ audit.Window, i int) {
			if i == n {
				kill()
			}
		}}
	}
	return exporter.Hooks{}
}
