package config

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/rs/zerolog"
)

// Build gives the sinks the exporter's clock: what they record of a
// commit is that clock's time.
func TestBuildGivesSinksTheClock(t *testing.T) {
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	c, err := parseResolved([]byte(strings.Replace(validYAML, "path: ./out", "path: "+t.TempDir(), 1)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	_, parts, err := c.Build(t.Context(), exporter.Options{Log: zerolog.Nop(), Now: func() time.Time { return at }}, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parts.Close() }()
	s := parts.Sinks[0]
	w := audit.Window{Account: "abc123xyz", Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)}
	wr, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.Write(&audit.Record{UUID: "u1", Time: w.Start, Category: "audit.security-events", Account: w.Account}); err != nil {
		t.Fatal(err)
	}
	if err := wr.Commit(t.Context(), sinks.Source{Count: 1, Completeness: "counted"}); err != nil {
		t.Fatal(err)
	}
	m, found, err := s.Archive().ReadManifest(t.Context(), w)
	if err != nil || !found || !m.ExportedAt.Equal(at) {
		t.Fatalf("manifest exported_at %v (found %v, %v), want the exporter's clock: %v", m.ExportedAt, found, err, at)
	}
}
