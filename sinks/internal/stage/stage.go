// Package stage holds what destinations stage objects in: unlinked
// temporary files, and a reader of one that stops when a context is done.
package stage

import (
	"context"
	"fmt"
	"io"
	"os"
)

// File creates an unlinked temporary file in dir ("" = the system's
// temporary directory): it has no name to leak, and disappears with the
// process however it ends.
func File(dir string) (*os.File, error) {
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

// CtxFile reads a staged file until Ctx is done, then fails every read. It
// keeps io.ReaderAt and io.Seeker, so the S3 uploader reads parts straight
// from the file (no part buffers, a part retried from disk), and a
// cancelled upload fails its parts while the uploader's own context stays
// alive to abort the multipart upload.
type CtxFile struct {
	Ctx context.Context
	F   *os.File
}

var _ interface {
	io.ReadSeeker
	io.ReaderAt
} = CtxFile{}

func (c CtxFile) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.F.Read(p)
}

func (c CtxFile) ReadAt(p []byte, off int64) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.F.ReadAt(p, off)
}

func (c CtxFile) Seek(off int64, whence int) (int64, error) { return c.F.Seek(off, whence) }
