// Package state keeps the per-account watermark: the end of the last window
// every sink has committed. Stores replace it atomically and refuse to
// overwrite a state that changed since it was loaded.
package state

import (
	"context"
	"errors"
	"time"
)

// State is one account's export progress.
type State struct {
	Account string
	// Watermark is the end of the last exported window: every window ending
	// at or before it is committed in every sink.
	Watermark time.Time
	// Window is the grid size the watermark was written with.
	Window time.Duration
	// UpdatedAt is when the state was last saved.
	UpdatedAt time.Time
	// ExporterVersion wrote the state.
	ExporterVersion string
	// SealedThrough: every complete day before it has been sealed in
	// every sink (zero: not recorded).
	SealedThrough time.Time
	// LookBack is what the run's look-back knows of the recently exported
	// windows (nil: nothing yet).
	LookBack *LookBack
	// Rev identifies the stored version this State was loaded from ("" when
	// there was none). Save succeeds only if the stored version is still Rev.
	Rev string
}

// Store loads and saves states.
type Store interface {
	// Load returns account's state, or ErrNotFound.
	Load(ctx context.Context, account string) (State, error)
	// Save replaces account's state with st if the stored state is still
	// st.Rev (absent when st.Rev is ""), and returns the new Rev. Otherwise
	// it returns ErrConflict and changes nothing.
	Save(ctx context.Context, st State) (string, error)
	// Close releases the store (locks, connections).
	Close() error
	// Probe proves, leaving nothing behind, that states can be saved
	// (for check).
	Probe(ctx context.Context) error
}

var (
	// ErrNotFound: no state saved for the account yet.
	ErrNotFound = errors.New("no state saved")
	// ErrConflict: another run changed the state since it was loaded.
	ErrConflict = errors.New("the state was changed by another run since it was loaded")
)

// LookBack is the look-back's ledger of one account: the windows exported
// recently, what the source counted for each when it was last listed or
// checked, and one reference count over all of them.
type LookBack struct {
	// RefFrom, RefTo: the range (queried as one padded window) whose count
	// at RefAt was RefCount; every record visible in it at RefAt was
	// delivered. RefTo zero: no reference.
	RefFrom, RefTo time.Time
	RefCount       int64
	RefAt          time.Time
	// Windows are the windows still in the look-back, oldest first.
	Windows []LookBackWindow
}

// LookBackWindow is one window in the look-back ledger.
type LookBackWindow struct {
	Start, End time.Time
	// Count is the source's count of the window's padded query when it
	// was last listed or checked (-1: the source counts nothing).
	Count int64
	// Listed is when the window was last listed (exported or re-listed)
	// or its count checked.
	Listed time.Time
	// Relisted counts re-listings (sources that count nothing).
	Relisted int
}

// MaxLookBackWindows bounds the ledger: two days of one-minute windows.
const MaxLookBackWindows = 2 * 24 * 60
