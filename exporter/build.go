package exporter

import (
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// Parts are the pieces a validated Config describes.
type Parts struct {
	Accounts []Account
	Sinks    []sinks.Sink
	Store    *state.FileStore
}

// Close releases the parts (the state lock).
func (p *Parts) Close() error {
	if p.Store != nil {
		return p.Store.Close()
	}
	return nil
}

// Grid returns the configured window grid.
func (c *Config) Grid() Grid { return Grid{Size: c.Export.Window} }

// BuildSources creates one API client per configured account.
func (c *Config) BuildSources(log zerolog.Logger) ([]Account, error) {
	var out []Account
	for _, s := range c.Sources() {
		client, err := odata.New(odata.Config{
			APIURL: s.APIURL, Account: s.Account, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			Filter: s.Filter, Timeout: s.Timeout, MaxRequestsPerSecond: s.MaxRequestsPerSecond,
			MaxElapsed: c.Retry.MaxElapsed, CAFile: s.CAFile,
		}, log.With().Str("account", s.Account).Logger())
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", s.Account, err)
		}
		out = append(out, Account{Name: s.Account, Source: client})
	}
	return out, nil
}

// BuildSinks creates the configured sinks.
func (c *Config) BuildSinks() []sinks.Sink {
	var out []sinks.Sink
	for _, s := range c.Sinks {
		// validate admits only file + jsonl in this version.
		out = append(out, sinks.NewFile(s.Path, sinks.JSONL{Gzip: s.Compression == "gzip"}))
	}
	return out
}

// OpenStore opens the state store; readOnly does not take the lock.
func (c *Config) OpenStore(readOnly bool) (*state.FileStore, error) {
	if readOnly {
		return state.OpenFileReadOnly(c.State.Path)
	}
	return state.OpenFile(c.State.Path)
}

// Build creates every part and an Exporter over them. Close the parts when done.
func (c *Config) Build(log zerolog.Logger, version string, now func() time.Time, hooks Hooks) (*Exporter, *Parts, error) {
	accounts, err := c.BuildSources(log)
	if err != nil {
		return nil, nil, err
	}
	store, err := c.OpenStore(false)
	if err != nil {
		return nil, nil, err
	}
	p := &Parts{Accounts: accounts, Sinks: c.BuildSinks(), Store: store}
	e := New(Options{Accounts: accounts, Sinks: p.Sinks, Store: store, Grid: c.Grid(), Lag: c.Export.Lag,
		Start: c.Export.Start, Version: version, Log: log, Now: now, Hooks: hooks})
	return e, p, nil
}
