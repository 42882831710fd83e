package config

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// LoadOffline is Load for the commands that never ask the API (state show
// and set, verify --evidence-only, run --dry-run): the sources'
// credentials need not be there. Their ${VAR}s may be unset and their
// files missing (an auditor's machine has neither); everything else is
// checked as Load does. The sources it builds refuse to be asked.
func LoadOffline(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	return Builtin().LoadOffline(path, lookupEnv)
}

// LoadOffline is LoadOffline with the types of r.
func (r Registry) LoadOffline(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	cfg, errs, err := r.load(path, lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	var keep FieldErrors
	for _, e := range errs {
		if !cfg.isCredential(e.Path) {
			keep = append(keep, e)
		}
	}
	if err := keep.err(); err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	cfg.offline = true
	return cfg, nil
}

// errOffline is what a source built by LoadOffline answers.
var errOffline = errclass.Mark(errclass.Config, errors.New("this command does not ask the API (its credentials were not loaded)"))

// offlineSource stands for a source that this command never asks.
type offlineSource struct{}

func (offlineSource) Token(context.Context) error { return errOffline }
func (offlineSource) Fetch(context.Context, audit.Window, func(*audit.Record) error) (source.Stats, error) {
	return source.Stats{}, errOffline
}
func (offlineSource) Count(context.Context, audit.Window) (int64, error) { return 0, errOffline }
func (offlineSource) Retention(context.Context) (time.Duration, string)  { return 0, "not asked" }
func (offlineSource) Probe(context.Context) (int64, error)               { return 0, errOffline }
func (offlineSource) Scrub(s string) string                              { return s }
