//go:build !linux

package main

import "io"

// Without Linux's parent-death signal a supervised child could outlive a
// killed supervisor, so elsewhere the exporter runs unsupervised (a Go
// runtime crash then exits 2, as Go's do).
const canSupervise = false

// supervisedEnv marks a supervised child (see supervise.go).
const supervisedEnv = "AUDITLOG_EXPORTER_SUPERVISED"

func supervise(io.Writer) int { return 1 }

func reportExit(int) {}
