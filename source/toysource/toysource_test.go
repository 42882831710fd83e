// Package toysource is a third kind of source, written in this test file
// alone: it proves that a source type plugs into the configuration with
// its own keys, defaults, validation, construction and check hint, and
// runs an export end to end (config -> exporter -> a file sink), while
// the only line naming it outside this file is its entry in a registry.
package toysource

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/rs/zerolog"
)

// Config is the toy source's keys: how many records each window holds,
// and their category.
type Config struct {
	RecordsPerWindow int    `yaml:"records_per_window"`
	Category         string `yaml:"category"`
}

// newConfig has the defaults of the optional keys.
func newConfig() *Config { return &Config{RecordsPerWindow: 3, Category: "toy.events"} }

func (c *Config) Validate(p string) source.FieldErrors {
	var errs source.FieldErrors
	if c.RecordsPerWindow < 1 || c.RecordsPerWindow > 1000 {
		errs.Add(p+".records_per_window", "must be between 1 and 1000")
	}
	if c.Category == "" {
		errs.Add(p+".category", "required")
	}
	return errs
}
func (c *Config) Files() []*string                    { return nil }
func (c *Config) ReadFiles(string) source.FieldErrors { return nil }
func (c *Config) CredentialKeys() []string            { return nil }
func (c *Config) Secrets() []string                   { return nil }
func (c *Config) DefaultStart() time.Duration         { return 48 * time.Hour }
func (c *Config) Hint(error) string                   { return "toys never fail" }
func (c *Config) New(su source.Setup) (source.Source, error) {
	return &toy{account: su.Account, n: c.RecordsPerWindow, category: c.Category}, nil
}

// toy makes up n records in every window, the same ones each time.
type toy struct {
	account, category string
	n                 int
}

var _ source.Source = (*toy)(nil)

func (t *toy) Token(context.Context) error { return nil }
func (t *toy) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	st := source.NewStats()
	step := w.End.Sub(w.Start) / time.Duration(t.n)
	var r audit.Record
	for i := range t.n {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		r = audit.Record{UUID: fmt.Sprintf("%s-%d-%d", t.account, w.Start.Unix(), i), Time: w.Start.Add(time.Duration(i) * step),
			Category: t.category, Account: t.account, Message: `{"toy":true}`}
		if err := emit(&r); err != nil {
			return st, err
		}
		st.Records++
	}
	st.Pages, st.Rows, st.Distinct, st.ServerCount, st.Completeness = 1, int64(t.n), int64(t.n), int64(t.n), source.CompletenessCounted
	return st, nil
}
func (t *toy) Count(context.Context, audit.Window) (int64, error) { return int64(t.n), nil }
func (t *toy) Retention(context.Context) (time.Duration, string) {
	return 30 * 24 * time.Hour, "toy"
}
func (t *toy) Probe(context.Context) (int64, error) { return int64(t.n), nil }
func (t *toy) Scrub(s string) string                { return s }

// registry is the program's registry with the toy's one line.
func registry() config.Registry {
	r := config.Builtin()
	r.Sources = append(r.Sources, config.SourceType{Name: "toy", New: func() config.SourceSettings { return newConfig() }})
	return r
}

func noEnv(string) (string, bool) { return "", false }

func configYAML(dir, src string) string {
	return "source:\n  type: toy\n  account: toy1\n" + src + `export:
  start: 2026-01-01T00:00:00Z
  window: 1h
  lag: 0s
  lookback: 0s
state:
  path: ` + filepath.Join(dir, "state") + `
sinks:
  - type: file
    format: jsonl
    path: ` + filepath.Join(dir, "out") + `
`
}

func TestToySourceExportsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg, err := registry().Parse([]byte(configYAML(dir, "  records_per_window: 4\n")), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	ex, parts, err := cfg.Build(t.Context(), exporter.Options{Log: zerolog.Nop(), Now: func() time.Time { return now }}, io.Discard, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parts.Close() }()
	res, err := ex.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Account != "toy1" || res[0].Windows != 3 || res[0].Records != 12 || !res[0].Watermark.Equal(now) {
		t.Fatalf("results %+v", res)
	}
	// What the file sink wrote: three windows of four records each.
	lines := 0
	err = filepath.WalkDir(filepath.Join(dir, "out"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		for sc := bufio.NewScanner(f); sc.Scan(); {
			if !strings.Contains(sc.Text(), `"toy.events"`) || !strings.Contains(sc.Text(), `toy1-`) {
				t.Errorf("%s: %s", p, sc.Text())
			}
			lines++
		}
		return nil
	})
	if err != nil || lines != 12 {
		t.Fatalf("%d records written, want 12 (%v)", lines, err)
	}
}

// The toy's keys decode strictly and validate with their paths; the
// other types' keys are refused as theirs; the built-in registry does not
// know the toy; the defaults come from the toy's own.
func TestToySourceConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, src, want string
	}{
		{"invalid value", "  records_per_window: 0\n", "source.records_per_window: must be between 1 and 1000"},
		{"wrong type", "  records_per_window: many\n", "source.records_per_window: cannot unmarshal"},
		{"unknown key", "  bogus: 1\n", "source.bogus: unknown key (known keys here: account, category, records_per_window, type)"},
		{"another type's key", "  client_id: x\n", "source.client_id: only for type neo or cf"},
		{"Cloud Foundry's key", "  service_key_file: /x\n", "source.service_key_file: only for type cf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registry().Parse([]byte(configYAML(dir, tc.src)), noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := config.Parse([]byte(configYAML(dir, "")), noEnv); err == nil || !strings.Contains(err.Error(), `source.type: "toy" is not one of: neo, cf`) {
		t.Fatalf("the built-in registry: %v", err)
	}
	y := strings.Replace(configYAML(dir, ""), "  start: 2026-01-01T00:00:00Z\n", "", 1)
	cfg, err := registry().Parse([]byte(y), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	toy, ok := cfg.Source.Settings.(*Config)
	if !ok || toy.RecordsPerWindow != 3 || cfg.Export.Start != "-48h" {
		t.Fatalf("settings %T %+v, export.start %q", cfg.Source.Settings, cfg.Source.Settings, cfg.Export.Start)
	}
}
