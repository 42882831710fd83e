package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/config"
)

// log.format: console writes no colour codes where the log is not a
// terminal: into a buffer, a pipe or a file.
func TestConsoleLogHasNoColourOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(config.LogConfig{Format: "console", Level: "info"}, &buf, nil)
	l.Info().Str("account", "a").Msg("exporting")
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	l = newLogger(config.LogConfig{Format: "console", Level: "info"}, f, nil)
	l.Warn().Msg("late records")
	f.Close()
	b, _ := os.ReadFile(f.Name())
	for _, out := range []string{buf.String(), string(b)} {
		if strings.Contains(out, "\x1b[") || !strings.Contains(out, "INF") && !strings.Contains(out, "WRN") {
			t.Fatalf("console log %q: want plain text", out)
		}
	}
}
