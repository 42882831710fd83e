package sinks

import (
	"context"
	"errors"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// encWriter is the Write half every destination shares: records go to the
// format's encoder, Open's context is checked every 1024 records, and the
// first error sticks: a writer whose Write failed never commits.
type encWriter struct {
	ctx     context.Context
	enc     Encoder
	wrapErr func(error) error // adds the sink and object to an encoding error
	n       int64             // records written
	err     error             // the first Write error
	closed  bool              // committed or aborted
}

// Write implements Writer.
func (w *encWriter) Write(r *audit.Record) error {
	switch {
	case w.closed:
		return errors.New("write after commit or abort")
	case w.err != nil:
		return w.err
	}
	if w.n&1023 == 0 {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			return err
		}
	}
	if err := w.enc.Encode(r); err != nil {
		w.err = w.wrapErr(err)
		return w.err
	}
	w.n++
	return nil
}
