// Package file is the destination that publishes objects as files under a
// local directory. It keeps what it publishes (sinks.Keeper): its windows
// have manifests and seals, and verify reads them back.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/atomicfile"
	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// Dest publishes each object as a file under a local directory: staged
// in a hidden temporary file beside the target (".name.tmp-XXXX", ignored
// by Hive-style readers), fsynced, then hard-linked into place (which
// fails, replacing nothing, when the name is taken), the temporary name
// removed and the directory fsynced. Files are created 0600 and
// directories 0700.
type Dest struct {
	dir string
}

// What a directory can do: keep what it publishes, and read it back.
var (
	_ sinks.Destination = (*Dest)(nil)
	_ sinks.Keeper      = (*Dest)(nil)
)

// New returns the destination writing under dir.
func New(dir string) *Dest { return &Dest{dir: dir} }

// NewSink returns the sink writing format under dir.
func NewSink(dir string, format sinks.Format) *sinks.Output { return sinks.New(New(dir), format) }

// Name implements sinks.Destination.
func (d *Dest) Name() string { return "file:" + d.dir }

// Path is where the object name is (or would be) published.
func (d *Dest) Path(name string) string { return filepath.Join(d.dir, filepath.FromSlash(name)) }

// MaxObjectSize implements sinks.Destination: no limit of its own.
func (d *Dest) MaxObjectSize() (int64, string) { return 0, "" }

// Stage implements sinks.Destination.
func (d *Dest) Stage(ctx context.Context, name string) (sinks.Staged, error) {
	final := d.Path(name)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, pathError(err)
	}
	// Temporary files in this directory that no live process holds are
	// garbage from a killed run (of this window or another of the same
	// day). A writer holds an flock on its temporary file until it is
	// renamed, so the file of a run still going is left alone.
	if old, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(old) > 0 {
		for _, o := range old {
			atomicfile.RemoveIfUnlocked(o)
		}
	}
	f, tmp, err := atomicfile.CreateLocked(filepath.Join(dir, "."+filepath.Base(final)+".tmp-"))
	if err != nil {
		return nil, pathError(err)
	}
	return &fileStaged{f: f, tmp: tmp, final: final}, nil
}

// pathError classifies a failure to create under the sink's path: a path
// that cannot be made, or is not this user's to write, is the
// configuration's to fix (retrying will not help); others (a full disk)
// are worth retrying later.
func pathError(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EROFS) {
		return errclass.Mark(errclass.Config, fmt.Errorf("%w (the sink's path must be a directory this user can create and write)", err))
	}
	return errclass.Mark(errclass.Permanent, err)
}

type fileStaged struct {
	f          *os.File
	tmp, final string
	done       bool // published or discarded
}

func (s *fileStaged) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *fileStaged) Publish(ctx context.Context, _ sinks.ObjectMeta) error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.tmp, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s: %w", s.final, err)
	}
	// Linked while still open: the flock on the temporary file is what
	// keeps another window's cleaner from taking it for a killed run's
	// leftover, and closing releases it. A link never replaces a file.
	if err := os.Link(s.tmp, s.final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("publish %s: %w", s.final, sinks.ErrExists)
		}
		return fmt.Errorf("link into %s: %w", s.final, err)
	}
	s.done = true
	if err := os.Remove(s.tmp); err != nil {
		return fmt.Errorf("remove %s: %w", s.tmp, err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.final, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.final)); err != nil {
		return fmt.Errorf("fsync directory of %s: %w", s.final, err)
	}
	return nil
}

func (s *fileStaged) Discard() error {
	if s.done {
		return nil
	}
	s.done = true
	_ = s.f.Close()
	if err := os.Remove(s.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Create implements sinks.Keeper: a complete temporary file hard-linked into
// place, which fails when the name is taken.
func (d *Dest) Create(_ context.Context, name string, b []byte) (bool, error) {
	p := d.Path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return false, err
	}
	if err := atomicfile.CreateFile(p, b); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, atomicfile.SyncDir(filepath.Dir(p))
}

// List implements sinks.Keeper.
func (d *Dest) List(_ context.Context, dir string) ([]string, error) {
	ents, err := os.ReadDir(d.Path(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, pathError(err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			if len(names) == sinks.MaxListed {
				return nil, fmt.Errorf("more than %d objects under %s", sinks.MaxListed, dir)
			}
			names = append(names, path.Join(dir, e.Name()))
		}
	}
	return names, nil
}

// Get implements sinks.Keeper.
func (d *Dest) Get(_ context.Context, name string) (io.ReadCloser, bool, error) {
	f, err := safefile.Open(d.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

// Probe implements sinks.Destination: it creates and removes a file.
func (d *Dest) Probe(context.Context) error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return errclass.Mark(errclass.Config, err)
	}
	p := filepath.Join(d.dir, ".auditlog-exporter-check-"+atomicfile.RandSuffix())
	if err := os.WriteFile(p, []byte("probe\n"), 0o600); err != nil {
		return errclass.Mark(errclass.Config, err)
	}
	return os.Remove(p)
}

// Config is a file sink's own configuration.
type Config struct {
	// Path is the directory objects are published under.
	Path string `yaml:"path"`
}

var _ sinks.DestConfig = Config{}

// Validate implements sinks.DestConfig.
func (c Config) Validate(p, _ string) []sinks.ConfigError {
	if c.Path == "" {
		return []sinks.ConfigError{{Path: p + ".path", Msg: "required for sink type file"}}
	}
	return nil
}

// Target implements sinks.DestConfig.
func (c Config) Target() string { return "file:" + filepath.Clean(c.Path) }

// Build implements sinks.DestConfig.
func (c Config) Build(context.Context, sinks.Env) (sinks.Destination, error) { return New(c.Path), nil }
