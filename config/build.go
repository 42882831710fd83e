package config

import (
	"context"
	"fmt"
	"io"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3client"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// Parts are the pieces a validated Config describes.
type Parts struct {
	Accounts []exporter.Account
	Sinks    []sinks.Sink
	Store    state.Store // nil when built without one
}

// Close releases the parts (the state lock).
func (p *Parts) Close() error {
	if p.Store != nil {
		return p.Store.Close()
	}
	return nil
}

// Grid returns the configured window grid.
func (c *Config) Grid() exporter.Grid { return exporter.Grid{Size: c.Export.Window} }

// Watermarks is what the state commands need to know of the configuration.
func (c *Config) Watermarks() exporter.Watermarks {
	w := exporter.Watermarks{Grid: c.Grid(), Lag: c.Export.Lag, Start: c.Export.Start}
	for _, s := range c.Sources() {
		w.Accounts = append(w.Accounts, s.Account)
	}
	return w
}

// BuildSources creates one source per configured account, through its
// type's package. Files a source names (a Cloud Foundry service key,
// certificate, key) are read now, afresh for every run.
func (c *Config) BuildSources(log zerolog.Logger) ([]exporter.Account, error) {
	var out []exporter.Account
	if c.offline {
		for _, s := range c.Sources() {
			out = append(out, exporter.Account{Name: s.Account, Source: offlineSource{}})
		}
		return out, nil
	}
	// One gate for the whole run: pages larger than source.BigPageBytes
	// are decoded one at a time, whatever the accounts and windows.
	bigPages := source.NewPageGate()
	for _, s := range c.Sources() {
		if s.Settings == nil {
			return nil, errclass.Mark(errclass.Config, fmt.Errorf("account %s: source type %q", s.Account, s.Type))
		}
		src, err := s.Settings.New(source.Setup{
			Account: s.Account, MaxElapsed: c.Retry.MaxElapsed, BigPages: bigPages,
			Dedupe: source.DedupeConfig{SpoolDir: c.Export.SpoolDir, SpillThreshold: c.Export.SpillThreshold},
			Log:    log.With().Str("account", s.Account).Logger(),
		})
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", s.Account, err)
		}
		out = append(out, exporter.Account{Name: s.Account, Source: src})
	}
	return out, nil
}

// OpenStore opens the state store; readOnly does not take the file lock.
func (c *Config) OpenStore(ctx context.Context, readOnly bool) (state.Store, error) {
	switch c.State.Type {
	case "s3":
		client, err := s3client.New(ctx, s3client.Options{Field: "state", Region: c.State.Region, Endpoint: c.State.Endpoint, PathStyle: c.State.PathStyle})
		if err != nil {
			return nil, err
		}
		return state.NewS3(client, c.State.Bucket, c.State.Prefix, c.State.Key), nil
	case "file":
		if readOnly {
			return state.OpenFileReadOnly(c.State.Path)
		}
		return state.OpenFile(c.State.Path)
	}
	return nil, errclass.Mark(errclass.Config, fmt.Errorf("state.type %q", c.State.Type))
}

// Build creates every part the file describes and an Exporter over them.
// o carries what does not come from the file (Version, Log, Now, Hooks,
// Progress, QuietWindows, Observer; Parallel, when positive, overrides
// export.parallel); the rest is filled in from the file. The sinks read
// the time from o.Now too. stdout is where a
// stdout sink writes. Without withStore no state store is opened (backfill
// and verify neither read nor move the watermark, and must not take the
// state lock). Close the parts when done.
func (c *Config) Build(ctx context.Context, o exporter.Options, stdout io.Writer, withStore bool) (*exporter.Exporter, *Parts, error) {
	accounts, err := c.BuildSources(o.Log)
	if err != nil {
		return nil, nil, err
	}
	sinkList, err := c.buildSinks(ctx, o.Version, o.Now, stdout)
	if err != nil {
		return nil, nil, err
	}
	p := &Parts{Accounts: accounts, Sinks: sinkList}
	if withStore {
		if p.Store, err = c.OpenStore(ctx, false); err != nil {
			return nil, nil, err
		}
	}
	o.Accounts, o.Sinks, o.Grid, o.Lag, o.Start, o.RetentionMargin = accounts, p.Sinks, c.Grid(), c.Export.Lag, c.Export.Start, c.Export.RetentionMargin
	o.MaxWindowsInFlight = c.Export.MaxWindowsInFlight
	o.LookBack = c.Export.LookBack
	if p.Store != nil {
		o.Store = p.Store
	}
	if o.Parallel <= 0 {
		o.Parallel = c.Export.Parallel
	}
	return exporter.New(o), p, nil
}
