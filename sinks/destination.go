package sinks

import (
	"context"
	"io"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// A destination says what it can do by the interfaces it implements, and
// says so once: every destination package checks them at compile time
// (var _ sinks.Keeper = (*Dest)(nil)), and New reads them once, when it
// builds the Output. The capabilities:
//
//   - Destination (every one): stage an object, publish it under its name.
//   - Keeper: it keeps what it publishes and reads it back, so its windows
//     get manifests and seals and verify can prove them. A destination
//     without it (a stream) is reported by verify as not verifiable.
//   - Inspector: it knows more of an object than its bytes (S3: versions,
//     Object Lock retention, a stored checksum).
//   - Versioned (of a Staged): each published object gets a version ID.
//
// A destination that receives records rather than objects (a bulk API, a
// message queue) implements Sink itself instead (see Sink).

// Destination is where an Output publishes committed windows. It does only
// I/O; the Output does everything else.
type Destination interface {
	// Name identifies the destination in logs and errors ("file:./out").
	Name() string
	// Stage starts an object to be published as name (relative to the
	// destination, from ObjectName). Nothing is visible to readers until
	// Publish.
	Stage(ctx context.Context, name string) (Staged, error)
	// Probe proves, leaving nothing behind, that objects can be staged and
	// published.
	Probe(ctx context.Context) error
	// MaxObjectSize is the largest object the destination can publish and
	// why (0: no limit).
	MaxObjectSize() (limit int64, why string)
}

// Staged is one object on its way to a destination.
type Staged interface {
	// Write appends encoded bytes (the Output buffers them).
	io.Writer
	// Publish makes the complete object visible under its name, at once
	// and whole where the destination can. It never replaces an object:
	// when the name is taken it fails with ErrExists, publishing nothing
	// (a stream, which has no names, publishes always). It fails,
	// publishing nothing, when ctx is done before the object is visible.
	Publish(ctx context.Context, meta ObjectMeta) error
	// Discard gives the object up: nothing becomes visible. Safe after
	// Publish (it then cleans up only what Publish left) and twice.
	Discard() error
}

// ObjectMeta is what a destination may record with a published object.
type ObjectMeta struct {
	Window      audit.Window
	Part        int    // 0: the window's first object; n: its n-th delta
	Format      string // extension: jsonl, jsonl.gz, parquet
	ContentType string
	Records     int64
	Bytes       int64
}

// Keeper is implemented by destinations that keep what they publish under
// its name: their windows get a manifest and can be verified.
type Keeper interface {
	// Get opens the object stored under name, or found = false.
	Get(ctx context.Context, name string) (r io.ReadCloser, found bool, err error)
	// List returns the names (relative to the destination) of the objects
	// directly under the directory dir, in lexical order; more than
	// MaxListed of them is an error.
	List(ctx context.Context, dir string) ([]string, error)
	// Create stores a small object (a manifest, a seal) whole under name
	// unless an object of that name exists (then created = false, nothing
	// written): what was committed is never replaced.
	Create(ctx context.Context, name string, b []byte) (created bool, err error)
}

// Inspector is implemented by destinations that know more of an object
// than its bytes (S3: versions, Object Lock).
type Inspector interface {
	// Inspect returns what the destination says of the object under
	// name; found = false when there is none.
	Inspect(ctx context.Context, name string) (info ObjectInfo, found bool, err error)
}

// Versioned is implemented by a Staged whose destination gives each
// published object a version ID.
type Versioned interface {
	// VersionID is the version the object got at Publish.
	VersionID() string
}

// ConfigError is one problem with one key of a destination's
// configuration: Path is the key's path in the file
// ("sinks[0].bucket"). Each destination package validates its own
// configuration and returns them, every one.
type ConfigError struct {
	Path string
	Msg  string
}

func (e ConfigError) Error() string { return e.Path + ": " + e.Msg }

// DestConfig is a destination's own configuration, as its package defines
// it: the keys of a sink of its type (decoded by the caller, strictly),
// their checks and the construction of the destination.
type DestConfig interface {
	// Validate returns every problem; path is the sink's path in the
	// configuration ("sinks[0]"), format the encoding the sink writes
	// (jsonl, parquet), for a destination that carries only some.
	Validate(path, format string) []ConfigError
	// Target names what the destination writes to, for telling apart two
	// sinks that would write the same objects; "" for a stream (one at
	// most of each type).
	Target() string
	// Build returns the destination.
	Build(ctx context.Context, env Env) (Destination, error)
}

// Env is what building a destination takes beyond its own configuration.
type Env struct {
	// Field is the sink's path in the configuration ("sinks[0]"), for
	// messages.
	Field string
	// Prefix is where in a bucket the destination writes: the sink's
	// prefix, or, for a sink per OCSF class, that class's.
	Prefix string
	// SpoolDir holds staged objects ("": the system's temporary
	// directory).
	SpoolDir string
	// Stdout is where a stream writes.
	Stdout io.Writer
	// Now is the destination's clock (nil: time.Now).
	Now func() time.Time
	// MaxObjectSize, when positive, lowers the largest object the
	// destination publishes, for the reason MaxObjectSizeWhy gives (a
	// layout's reader wants smaller objects).
	MaxObjectSize    int64
	MaxObjectSizeWhy string
}
