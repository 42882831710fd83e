package sinks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// StreamSink writes committed windows to a stream (standard output) for a
// log shipper to read. A window is spooled to a temporary file first and
// copied to the stream whole at Commit, so an aborted window writes nothing
// and windows never interleave. Delivery is at-least-once: a stream cannot
// be rolled back, so a window whose copy was interrupted, or whose
// watermark was not saved, is written again by the next run.
type StreamSink struct {
	name   string
	out    io.Writer
	format Format
	spool  string // directory for spool files; "" = os.TempDir()
	mu     sync.Mutex
}

var _ Sink = (*StreamSink)(nil)

// NewStream returns a sink writing format to out; name is for messages.
func NewStream(name string, out io.Writer, format Format, spoolDir string) *StreamSink {
	return &StreamSink{name: name, out: out, format: format, spool: spoolDir}
}

// Name implements Sink.
func (s *StreamSink) Name() string { return s.name + " " + s.format.Ext() }

// Open implements Sink.
func (s *StreamSink) Open(ctx context.Context, w audit.Window) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := stageFile(s.spool)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	enc, err := s.format.NewEncoder(bw, w)
	if err != nil {
		f.Close()
		return nil, err
	}
	sw := &streamWriter{sink: s, f: f, bw: bw}
	sw.encWriter = encWriter{ctx: ctx, enc: enc, wrapErr: func(err error) error { return fmt.Errorf("sink %s: spool: %w", s.Name(), err) }}
	return sw, nil
}

type streamWriter struct {
	encWriter
	sink *StreamSink
	f    *os.File
	bw   *bufio.Writer
}

func (w *streamWriter) Commit(ctx context.Context) error {
	if w.closed {
		return errors.New("commit after commit or abort")
	}
	if err := errors.Join(w.err, ctx.Err()); err != nil {
		_ = w.Abort()
		return err
	}
	err := w.enc.Close()
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		_, err = w.f.Seek(0, io.SeekStart)
	}
	if err == nil {
		w.sink.mu.Lock()
		_, err = io.Copy(w.sink.out, w.f)
		if f, ok := w.sink.out.(interface{ Sync() error }); ok && err == nil {
			_ = f.Sync() // a pipe cannot be synced; a file can
		}
		w.sink.mu.Unlock()
	}
	_ = w.Abort()
	if err != nil {
		return fmt.Errorf("sink %s: %w", w.sink.Name(), err)
	}
	return nil
}

func (w *streamWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.f.Close()
}

// Probe proves a spool file can be created.
func (s *StreamSink) Probe(context.Context) error {
	f, err := stageFile(s.spool)
	if err != nil {
		return errclass.Mark(errclass.Config, fmt.Errorf("sink %s: %w", s.Name(), err))
	}
	return f.Close()
}
