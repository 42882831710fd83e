package exporter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

func TestJudge(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	m := sinks.Manifest{Records: 100, SourceCount: 120, SHA256: sum, Bytes: 5000, ExportedAt: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)}
	uncounted := m
	uncounted.SourceCount = -1
	matching := func(m sinks.Manifest, padded, source int64) Evidence {
		return Evidence{Manifest: m, HasManifest: true, HasObject: true, SHA256: m.SHA256, Bytes: m.Bytes, Padded: padded, Source: source}
	}
	edit := func(f func(*Evidence)) Evidence {
		ev := matching(m, 120, 100)
		f(&ev)
		return ev
	}
	for _, tc := range []struct {
		name     string
		ev       Evidence
		status   string
		exported int64
		source   int64
		detail   string
	}{
		{"the object as committed, source unchanged", matching(m, 120, 100), StatusOK, 100, 100, ""},
		{"fewer records at the source now", matching(m, 110, 90), StatusOK, 100, 90, "10 fewer records (retention?)"},
		{"the count grew: late arrivals", matching(m, 125, 104), StatusLateArrivals, 100, 104, "4 records became visible after the export at 2026-11-24T11:00:00Z"},
		{"same count, more records: short", matching(m, 120, 103), StatusShort, 100, 103, "the source has 3 records the export lacks"},
		{"a count that shrank, more records: short", matching(m, 119, 101), StatusShort, 100, 101, "the source has 1 records the export lacks"},
		{"no count at all: short, and said why", matching(uncounted, -1, 101), StatusShort, 100, 101, "late arrivals and skipped records look alike"},
		{"no count, nothing more: ok", matching(uncounted, -1, 100), StatusOK, 100, 100, ""},
		{"no object", edit(func(ev *Evidence) { ev.HasObject, ev.SHA256, ev.Bytes = false, "", 0 }), StatusMissing, -1, 100, "no object"},
		{"no object, no manifest", Evidence{Padded: 120, Source: -1}, StatusMissing, -1, -1, "no object"},
		{"object without manifest", edit(func(ev *Evidence) { ev.HasManifest, ev.Manifest = false, sinks.Manifest{} }), StatusMissing, -1, 100, "object without manifest"},
		{"an edited object (same size)", edit(func(ev *Evidence) { ev.SHA256 = strings.Repeat("cd", 32) }), StatusChecksumMismatch, 100, 100, "manifest says 5000 bytes"},
		{"a truncated object", edit(func(ev *Evidence) { ev.Bytes = 4000 }), StatusChecksumMismatch, 100, 100, "object has 4000 bytes"},
		{"a manifest that cannot be trusted", edit(func(ev *Evidence) { ev.ManifestErr = errors.New("manifest: it describes another window") }), StatusChecksumMismatch, -1, -1, "manifest unreadable: manifest: it describes another window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.ev)
			if v.Status != tc.status || v.Exported != tc.exported || v.Source != tc.source || !strings.Contains(v.Detail, tc.detail) || (tc.detail == "" && v.Detail != "") {
				t.Fatalf("Judge = %+v, want %s, exported %d, source %d, detail containing %q", v, tc.status, tc.exported, tc.source, tc.detail)
			}
		})
	}
}
