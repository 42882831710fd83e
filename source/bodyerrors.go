package source

import (
	"errors"
	"fmt"
	"io"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// BadBody marks a response body that is not the JSON a source expects (cut
// short, an HTML page from a proxy, garbage): retryable, counted as
// CauseBadBody, wrapping what (the source's own sentinel) and err. A body
// that ends early is io.ErrUnexpectedEOF, never io.EOF.
func BadBody(what, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return errclass.Mark(errclass.Retryable, WithCause(CauseBadBody, fmt.Errorf("%w: %w", what, err)))
}

// BadContent marks well-formed JSON a source cannot accept (a record
// without an id, a time it cannot parse): retrying will not help.
func BadContent(format string, args ...any) error {
	return errclass.Mark(errclass.Permanent, fmt.Errorf(format, args...))
}
