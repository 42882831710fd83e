// Package memdest is a destination that keeps what it publishes in
// memory, for tests of what writes through sinks (the exporter): every
// object version created is kept in order, as a consumer notified of each
// new object sees them, and a publish can be made to fail. It honours
// everything a destination promises (nothing visible before Publish, a
// committed name never replaced) and passes sinks/sinktest.
package memdest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// Dest keeps published objects in memory. It is safe for concurrent use.
type Dest struct {
	name string

	mu      sync.Mutex
	current map[string]*Object
	created []Object
	pending int // staged, neither published nor discarded
	fail    func(name string) error
	limit   int64
}

var (
	_ sinks.Destination = (*Dest)(nil)
	_ sinks.Keeper      = (*Dest)(nil)
	_ sinks.Inspector   = (*Dest)(nil)
	_ sinks.Versioned   = (*staged)(nil)
)

// Object is one version of an object, as created.
type Object struct {
	Name    string
	Data    []byte
	Version string // "1", "2", ... in the order created
	// Meta is what Publish was given; zero for a small object stored by
	// Create (a manifest, a seal).
	Meta sinks.ObjectMeta
	// Small: stored by Create.
	Small bool
}

// New returns an empty destination; name tells it apart in logs
// ("mem:<name>").
func New(name string) *Dest {
	return &Dest{name: name, current: map[string]*Object{}}
}

// NewSink returns the sink writing format to a new destination.
func NewSink(name string, format sinks.Format) (*sinks.Output, *Dest) {
	d := New(name)
	return sinks.New(d, format), d
}

// Name implements sinks.Destination.
func (d *Dest) Name() string { return "mem:" + d.name }

// SetMaxObjectSize sets the largest object the destination publishes (0:
// no limit).
func (d *Dest) SetMaxObjectSize(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.limit = n
}

// MaxObjectSize implements sinks.Destination.
func (d *Dest) MaxObjectSize() (int64, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.limit > 0 {
		return d.limit, "the memory destination's limit"
	}
	return 0, ""
}

// FailPublish makes Publish of an object fail with what fail returns for
// its name (nil: publish); nothing is published then. nil clears it.
func (d *Dest) FailPublish(fail func(name string) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = fail
}

// Probe implements sinks.Destination: nothing to prove, nothing left.
func (d *Dest) Probe(ctx context.Context) error { return ctx.Err() }

// Stage implements sinks.Destination.
func (d *Dest) Stage(ctx context.Context, name string) (sinks.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") {
		return nil, fmt.Errorf("stage %q: not a clean relative name", name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending++
	return &staged{d: d, name: name}, nil
}

type staged struct {
	d       *Dest
	name    string
	buf     bytes.Buffer
	done    bool // published or discarded
	version string
}

func (s *staged) Write(p []byte) (int, error) {
	if s.done {
		return 0, errors.New("write after publish or discard")
	}
	return s.buf.Write(p)
}

// Publish implements sinks.Staged.
func (s *staged) Publish(ctx context.Context, meta sinks.ObjectMeta) error {
	if s.done {
		return errors.New("publish after publish or discard")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", s.name, err)
	}
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		if err := d.fail(s.name); err != nil {
			return fmt.Errorf("publish %s: %w", s.name, err)
		}
	}
	if _, taken := d.current[s.name]; taken {
		return fmt.Errorf("publish %s: %w", s.name, sinks.ErrExists)
	}
	o := d.store(s.name, bytes.Clone(s.buf.Bytes()), false)
	o.Meta = meta
	d.created[len(d.created)-1].Meta = meta
	s.version, s.done = o.Version, true
	s.buf = bytes.Buffer{}
	d.pending--
	return nil
}

// store records a new version of name; d.mu is held.
func (d *Dest) store(name string, b []byte, small bool) *Object {
	o := &Object{Name: name, Data: b, Version: strconv.Itoa(len(d.created) + 1), Small: small}
	d.current[name] = o
	d.created = append(d.created, *o)
	return o
}

// Discard implements sinks.Staged.
func (s *staged) Discard() error {
	if s.done {
		return nil
	}
	s.done = true
	s.buf = bytes.Buffer{}
	s.d.mu.Lock()
	s.d.pending--
	s.d.mu.Unlock()
	return nil
}

// VersionID implements sinks.Versioned.
func (s *staged) VersionID() string { return s.version }

// Create implements sinks.Keeper.
func (d *Dest) Create(ctx context.Context, name string, b []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, taken := d.current[name]; taken {
		return false, nil
	}
	d.store(name, bytes.Clone(b), true)
	return true, nil
}

// Get implements sinks.Keeper.
func (d *Dest) Get(ctx context.Context, name string) (io.ReadCloser, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.current[name]
	if !ok {
		return nil, false, nil
	}
	return io.NopCloser(bytes.NewReader(o.Data)), true, nil
}

// List implements sinks.Keeper.
func (d *Dest) List(ctx context.Context, dir string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for name := range d.current {
		if path.Dir(name) == path.Clean(dir) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Inspect implements sinks.Inspector: the current version, and the
// SHA-256 of its bytes as stored.
func (d *Dest) Inspect(ctx context.Context, name string) (sinks.ObjectInfo, bool, error) {
	if err := ctx.Err(); err != nil {
		return sinks.ObjectInfo{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.current[name]
	if !ok {
		return sinks.ObjectInfo{}, false, nil
	}
	sum := sha256.Sum256(o.Data)
	return sinks.ObjectInfo{Version: o.Version, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(o.Data))}, true, nil
}

// Created returns every object version created, in order: what a
// consumer notified of each new object was given.
func (d *Dest) Created() []Object {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.created)
}

// Names returns the names of the objects stored now, sorted.
func (d *Dest) Names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.current))
	for name := range d.current {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Read returns the bytes stored under name now.
func (d *Dest) Read(name string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.current[name]
	if !ok {
		return nil, false
	}
	return o.Data, true
}

// Pending is how many staged objects are neither published nor
// discarded: after a run, a writer left open.
func (d *Dest) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending
}

// Lose removes the object stored under name, as an operator or a bucket
// policy might (the destination itself never removes anything); its
// created versions stay in Created.
func (d *Dest) Lose(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.current[name]
	delete(d.current, name)
	return ok
}

// Replace stores b under name whatever is there, as tampering behind the
// destination's back would (the destination itself never replaces).
func (d *Dest) Replace(name string, b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.store(name, bytes.Clone(b), false)
}
