package sinks

import (
	"context"
	"fmt"
	"io"
	"os"
)

// stageFile creates an unlinked temporary file in dir ("" = the system's
// temporary directory): it has no name to leak, and disappears with the
// process however it ends.
func stageFile(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ".auditlog-exporter-stage-*")
	if err != nil {
		return nil, fmt.Errorf("staging file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("staging file: %w", err)
	}
	return f, nil
}

// ctxFile reads a staged file until ctx is done, then fails every read. It
// keeps io.ReaderAt and io.Seeker, so the S3 uploader reads parts straight
// from the file (no part buffers, a part retried from disk), and a
// cancelled upload fails its parts while the uploader's own context stays
// alive to abort the multipart upload.
type ctxFile struct {
	ctx context.Context
	f   *os.File
}

var _ interface {
	io.ReadSeeker
	io.ReaderAt
} = ctxFile{}

func (c ctxFile) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.f.Read(p)
}

func (c ctxFile) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.f.ReadAt(p, off)
}

func (c ctxFile) Seek(off int64, whence int) (int64, error) { return c.f.Seek(off, whence) }
