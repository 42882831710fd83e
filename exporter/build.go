package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
)

// Parts are the pieces a validated Config describes.
type Parts struct {
	Accounts []Account
	Sinks    []sinks.Sink
	Store    state.Store
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
			MaxElapsed: c.Retry.MaxElapsed, CAFile: s.CAFile, MaxPageBytes: s.MaxPageBytes, Dedupe: source.DedupeConfig{SpoolDir: c.Export.SpoolDir, SpillThreshold: c.Export.SpillThreshold},
			MaxPagesPerWindow: s.MaxPagesPerWindow, RetentionDays: s.RetentionDays,
		}, log.With().Str("account", s.Account).Logger())
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", s.Account, err)
		}
		out = append(out, Account{Name: s.Account, Source: client})
	}
	return out, nil
}

// errNoRegion: neither the configuration nor the AWS environment names a region.
var errNoRegion = errors.New("required (or set AWS_REGION)")

// newS3Client builds an S3 client from the SDK's default credential chain
// (environment, shared config, web identity for IRSA, instance roles).
func newS3Client(ctx context.Context, path, region, endpoint string, pathStyle bool) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	opts = append(opts, awsconfig.WithRetryMaxAttempts(5))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("%s: AWS configuration: %w", path, err))
	}
	if cfg.Region == "" {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("%s.region: %w", path, errNoRegion))
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = &endpoint
		}
		o.UsePathStyle = pathStyle
	}), nil
}

// BuildSinks creates the configured sinks; stdout is where a stdout sink writes.
func (c *Config) BuildSinks(ctx context.Context, version string, stdout io.Writer) ([]sinks.Sink, error) {
	var out []sinks.Sink
	for i, s := range c.Sinks {
		var format sinks.Format = sinks.JSONL{Gzip: s.Compression == "gzip"}
		if s.Format == "parquet" {
			format = sinks.Parquet{Compression: s.Compression, Version: version}
		}
		switch s.Type {
		case "file":
			fs := sinks.NewFile(s.Path, format)
			fs.Version = version
			out = append(out, fs)
		case "stdout":
			out = append(out, sinks.NewStream("stdout", stdout, format, c.Export.SpoolDir))
		case "s3":
			client, err := newS3Client(ctx, fmt.Sprintf("sinks[%d]", i), s.Region, s.Endpoint, s.PathStyle)
			if err != nil {
				return nil, err
			}
			ss := sinks.NewS3(client, sinks.S3Options{Bucket: s.Bucket, Prefix: s.Prefix, SSE: s.SSE, KMSKeyID: s.KMSKeyID, StorageClass: s.StorageClass, StageDir: c.Export.SpoolDir}, format)
			ss.Version = version
			out = append(out, ss)
		}
	}
	return out, nil
}

// OpenStore opens the state store; readOnly does not take the file lock.
func (c *Config) OpenStore(ctx context.Context, readOnly bool) (state.Store, error) {
	switch c.State.Type {
	case "s3":
		client, err := newS3Client(ctx, "state", c.State.Region, c.State.Endpoint, c.State.PathStyle)
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

// BuildOptions are the parts of a build that do not come from the file.
type BuildOptions struct {
	Version string
	Stdout  io.Writer // where a stdout sink writes
	Now     func() time.Time
	Hooks   Hooks
	// Progress reports windows as they finish; nil for none.
	Progress Progress
	// Parallel overrides export.parallel when positive (backfill --parallel).
	Parallel int
	// NoStore builds without a state store (backfill neither reads nor
	// moves the watermark, and must not take the state lock).
	NoStore bool
	// QuietWindows logs the per-window line at debug level (while a
	// progress bar is drawn).
	QuietWindows bool
	// Observer hears about windows, watermarks and runs (metrics).
	Observer Observer
}

// Build creates every part and an Exporter over them. Close the parts when done.
func (c *Config) Build(ctx context.Context, log zerolog.Logger, bo BuildOptions) (*Exporter, *Parts, error) {
	accounts, err := c.BuildSources(log)
	if err != nil {
		return nil, nil, err
	}
	sinkList, err := c.BuildSinks(ctx, bo.Version, bo.Stdout)
	if err != nil {
		return nil, nil, err
	}
	p := &Parts{Accounts: accounts, Sinks: sinkList}
	if !bo.NoStore {
		if p.Store, err = c.OpenStore(ctx, false); err != nil {
			return nil, nil, err
		}
	}
	parallel := c.Export.Parallel
	if bo.Parallel > 0 {
		parallel = bo.Parallel
	}
	e := New(Options{Accounts: accounts, Sinks: p.Sinks, Store: p.Store, Grid: c.Grid(), Lag: c.Export.Lag,
		Start: c.Export.Start, RetentionMargin: c.Export.RetentionMargin, Parallel: parallel, Version: bo.Version, Log: log, Now: bo.Now, Hooks: bo.Hooks,
		Progress: bo.Progress, QuietWindows: bo.QuietWindows, Observer: bo.Observer})
	return e, p, nil
}
