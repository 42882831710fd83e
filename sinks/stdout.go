package sinks

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// StreamDest publishes committed windows to a stream (standard output) for
// a log shipper to read. A window is staged in an unlinked temporary file
// and copied to the stream whole at Publish, so an aborted window writes
// nothing and windows never interleave. Delivery is at-least-once: a
// stream cannot be rolled back, so a window whose copy was interrupted, or
// whose watermark was not saved, is written again by the next run. It
// keeps nothing to read back: no manifests, nothing to verify.
type StreamDest struct {
	name  string
	out   io.Writer
	spool string // directory for staging files; "" = os.TempDir()
	mu    sync.Mutex
}

var _ Destination = (*StreamDest)(nil)

// NewStreamDest returns the destination writing to out; name is for
// messages, spoolDir holds the staging files.
func NewStreamDest(name string, out io.Writer, spoolDir string) *StreamDest {
	return &StreamDest{name: name, out: out, spool: spoolDir}
}

// NewStream returns the sink writing format to out.
func NewStream(name string, out io.Writer, format Format, spoolDir string) *Output {
	return New(NewStreamDest(name, out, spoolDir), format)
}

// Name implements Destination.
func (d *StreamDest) Name() string { return d.name }

// MaxObjectSize implements Destination: no limit.
func (d *StreamDest) MaxObjectSize() (int64, string) { return 0, "" }

// Stage implements Destination.
func (d *StreamDest) Stage(context.Context, string) (Staged, error) {
	f, err := stageFile(d.spool)
	if err != nil {
		return nil, err
	}
	return &streamStaged{d: d, f: f}, nil
}

type streamStaged struct {
	d    *StreamDest
	f    *os.File
	done bool
}

func (s *streamStaged) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *streamStaged) Publish(ctx context.Context, _ ObjectMeta) error {
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

// Probe implements Destination: a staging file can be created.
func (d *StreamDest) Probe(context.Context) error {
	f, err := stageFile(d.spool)
	if err != nil {
		return errclass.Mark(errclass.Config, err)
	}
	return f.Close()
}
