// Package stream is the destination that publishes objects one after
// another to a stream (standard output). It keeps nothing to read back:
// it is no sinks.Keeper, and verify lists it as not verifiable.
package stream

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/internal/stage"
)

// Dest publishes committed windows to a stream (standard output) for
// a log shipper to read. A window is staged in an unlinked temporary file
// and copied to the stream whole at Publish, so an aborted window writes
// nothing and windows never interleave. Delivery is at-least-once: a
// stream cannot be rolled back, so a window whose copy was interrupted, or
// whose watermark was not saved, is written again by the next run. It
// keeps nothing to read back: no manifests, nothing to verify.
type Dest struct {
	name  string
	out   io.Writer
	spool string // directory for staging files; "" = os.TempDir()
	mu    sync.Mutex
}

// What a stream can do: publish, nothing more (it keeps nothing).
var _ sinks.Destination = (*Dest)(nil)

// New returns the destination writing to out; name is for messages,
// spoolDir holds the staging files.
func New(name string, out io.Writer, spoolDir string) *Dest {
	return &Dest{name: name, out: out, spool: spoolDir}
}

// NewSink returns the sink writing format to out.
func NewSink(name string, out io.Writer, format sinks.Format, spoolDir string) *sinks.Output {
	return sinks.New(New(name, out, spoolDir), format)
}

// Name implements sinks.Destination.
func (d *Dest) Name() string { return d.name }

// MaxObjectSize implements sinks.Destination: no limit.
func (d *Dest) MaxObjectSize() (int64, string) { return 0, "" }

// Stage implements sinks.Destination.
func (d *Dest) Stage(context.Context, string) (sinks.Staged, error) {
	f, err := stage.File(d.spool)
	if err != nil {
		return nil, err
	}
	return &streamStaged{d: d, f: f}, nil
}

type streamStaged struct {
	d    *Dest
	f    *os.File
	done bool
}

func (s *streamStaged) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *streamStaged) Publish(ctx context.Context, _ sinks.ObjectMeta) error {
	// Removes the spooled copy, whatever happened: the stream has what it
	// got, and a failure to clean up changes nothing of it.
	defer func() { _ = s.Discard() }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if _, err := io.Copy(s.d.out, s.f); err != nil {
		return err
	}
	if f, ok := s.d.out.(interface{ Sync() error }); ok {
		_ = f.Sync() // a pipe cannot be synced; a file can
	}
	return nil
}

func (s *streamStaged) Discard() error {
	if s.done {
		return nil
	}
	s.done = true
	return s.f.Close()
}

// Probe implements sinks.Destination: a staging file can be created.
func (d *Dest) Probe(context.Context) error {
	f, err := stage.File(d.spool)
	if err != nil {
		return errclass.Mark(errclass.Config, err)
	}
	return f.Close()
}

// Config is a standard output sink's own configuration: it has no keys;
// it writes to the Env's Stdout and spools in its SpoolDir.
type Config struct{}

var _ sinks.DestConfig = Config{}

// Validate implements sinks.DestConfig: a reader of a pipe sees the
// objects one after another, which only JSON lines survives.
func (Config) Validate(p, format string) []sinks.ConfigError {
	if format != "jsonl" {
		return []sinks.ConfigError{{Path: p + ".format", Msg: "sink type stdout writes jsonl only"}}
	}
	return nil
}

// Target implements sinks.DestConfig: a stream.
func (Config) Target() string { return "" }

// Build implements sinks.DestConfig.
func (Config) Build(_ context.Context, env sinks.Env) (sinks.Destination, error) {
	return New("stdout", env.Stdout, env.SpoolDir), nil
}
