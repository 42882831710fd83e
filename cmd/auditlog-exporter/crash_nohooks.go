//go:build !crashhooks || !unix

package main

import "github.com/auditlog-exporter/auditlog-exporter/exporter"

// crashHooks: none in a release binary (see crash_hooks.go).
func crashHooks() exporter.Hooks { return exporter.Hooks{} }
