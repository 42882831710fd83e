package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/atomicfile"
	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
)

// FormatVersion is the newest version of the state file format this build
// reads; it writes the oldest version that holds what is set (2:
// sealed_through, 3: lookback), so that an older build refuses such a
// state by its version.
const FormatVersion = 3

// LockName is the lock file in a state directory.
const LockName = ".auditlog-exporter.lock"

// FileStore keeps one JSON file per account in a directory. Opening it
// takes an exclusive flock on the directory's lock file, held until Close;
// the kernel releases it when the process dies, however it dies.
type FileStore struct {
	dir      string
	lock     *os.File
	readOnly bool
	mu       sync.Mutex // serializes Save within the process
}

var _ Store = (*FileStore)(nil)

var accountName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ErrLocked is wrapped by the error of opening a state directory another
// run holds.
var ErrLocked = errors.New("in use by another run")

// OpenFile opens (creating it 0700 if needed) the state directory dir and
// locks it. A second opener fails at once with an error naming the lock.
func OpenFile(dir string) (*FileStore, error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("state.path %s is not a directory (the file state store keeps one file per account in a directory)", dir))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errclass.Mark(errclass.Permanent, fmt.Errorf("state directory: %w", err))
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errclass.Mark(errclass.Permanent, fmt.Errorf("state lock: %w", err))
	}
	if err := atomicfile.TryLock(f); err != nil {
		_ = f.Close()
		if errors.Is(err, atomicfile.ErrWouldBlock) {
			return nil, errclass.Mark(errclass.Retryable, fmt.Errorf("state directory %s is %w (lock %s held); wait for it to finish", dir, ErrLocked, path))
		}
		return nil, errclass.Mark(errclass.Permanent, fmt.Errorf("lock %s: %w", path, err))
	}
	return &FileStore{dir: dir, lock: f}, nil
}

// OpenFileReadOnly opens dir for Load only, without the lock, so the state
// can be inspected while a run holds it. Save fails. A directory that does
// not exist yet holds no state (every Load is ErrNotFound).
func OpenFileReadOnly(dir string) (*FileStore, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &FileStore{dir: dir, readOnly: true}, nil // no state saved yet
	}
	if err != nil {
		return nil, errclass.Mark(errclass.Permanent, fmt.Errorf("state directory: %w", err))
	}
	if !fi.IsDir() {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("state directory %s is not a directory", dir))
	}
	return &FileStore{dir: dir, readOnly: true}, nil
}

// Path returns the state file of account.
func (s *FileStore) Path(account string) string {
	return filepath.Join(s.dir, account+".json")
}

// fileState is the on-disk format.
type fileState struct {
	Version         int           `json:"version"`
	Account         string        `json:"account"`
	Watermark       time.Time     `json:"watermark"`
	Window          string        `json:"window"`
	UpdatedAt       time.Time     `json:"updated_at"`
	ExporterVersion string        `json:"exporter_version,omitempty"`
	SealedThrough   time.Time     `json:"sealed_through,omitzero"`
	LookBack        *fileLookBack `json:"lookback,omitempty"`
}

// fileLookBack is the look-back ledger on disk; times are Unix seconds.
type fileLookBack struct {
	RefFrom  int64            `json:"ref_from,omitempty"`
	RefTo    int64            `json:"ref_to,omitempty"`
	RefCount int64            `json:"ref_count"`
	RefAt    int64            `json:"ref_at,omitempty"`
	Windows  []fileLookWindow `json:"windows"`
}

type fileLookWindow struct {
	Start    int64 `json:"s"`
	End      int64 `json:"e"`
	Count    int64 `json:"c"`
	Listed   int64 `json:"l"`
	Relisted int   `json:"r,omitempty"`
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func encodeLookBack(lb *LookBack) *fileLookBack {
	if lb == nil {
		return nil
	}
	f := &fileLookBack{RefFrom: unix(lb.RefFrom), RefTo: unix(lb.RefTo), RefCount: lb.RefCount, RefAt: unix(lb.RefAt), Windows: []fileLookWindow{}}
	for _, w := range lb.Windows {
		f.Windows = append(f.Windows, fileLookWindow{Start: unix(w.Start), End: unix(w.End), Count: w.Count, Listed: unix(w.Listed), Relisted: w.Relisted})
	}
	return f
}

// maxUnix is the end of year 9999: later times are not real.
const maxUnix = 253402300799

// decodeLookBack checks a ledger read back: it is outside input.
func decodeLookBack(f *fileLookBack) (*LookBack, error) {
	if f == nil {
		return nil, nil
	}
	if len(f.Windows) > MaxLookBackWindows {
		return nil, fmt.Errorf("corrupt: lookback lists %d windows, more than %d", len(f.Windows), MaxLookBackWindows)
	}
	inRange := func(s int64) bool { return s >= 0 && s <= maxUnix }
	if !inRange(f.RefFrom) || !inRange(f.RefTo) || !inRange(f.RefAt) || f.RefCount < -1 || f.RefTo < f.RefFrom {
		return nil, errors.New("corrupt: lookback reference out of range")
	}
	lb := &LookBack{RefFrom: fromUnix(f.RefFrom), RefTo: fromUnix(f.RefTo), RefCount: f.RefCount, RefAt: fromUnix(f.RefAt)}
	for i, w := range f.Windows {
		if !inRange(w.Start) || !inRange(w.End) || !inRange(w.Listed) || w.End <= w.Start || w.Count < -1 || w.Relisted < 0 ||
			(i > 0 && w.Start < f.Windows[i-1].End) {
			return nil, fmt.Errorf("corrupt: lookback window %d is out of range or out of order", i)
		}
		lb.Windows = append(lb.Windows, LookBackWindow{Start: fromUnix(w.Start), End: fromUnix(w.End), Count: w.Count, Listed: fromUnix(w.Listed), Relisted: w.Relisted})
	}
	return lb, nil
}

// Load implements Store.
func (s *FileStore) Load(ctx context.Context, account string) (State, error) {
	if !accountName.MatchString(account) {
		return State{}, errclass.Mark(errclass.Config, fmt.Errorf("account %q is not a valid technical name", account))
	}
	b, err := readCapped(s.Path(account))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, ErrNotFound
	}
	if errors.Is(err, errTooLarge) || errors.Is(err, safefile.ErrNotRegular) {
		return State{}, errclass.Mark(errclass.Config, fmt.Errorf("state file %s: %w; move it away to start over from export.start, or replace it with a valid one", s.Path(account), err))
	}
	if err != nil {
		return State{}, errclass.Mark(errclass.Permanent, fmt.Errorf("read state: %w", err))
	}
	st, err := Decode(b, account)
	if err != nil {
		return State{}, errclass.Mark(errclass.Config, fmt.Errorf("state file %s: %w; move it away to start over from export.start, or replace it with a valid one", s.Path(account), err))
	}
	st.Rev = rev(b)
	return st, nil
}

// MaxStateBytes is the largest state file or object read: a real one is
// about 250 bytes, plus about 60 bytes a window in the look-back ledger.
const MaxStateBytes = 1 << 20

var errTooLarge = fmt.Errorf("larger than %d bytes: not a state file", MaxStateBytes)

// readCapped reads a file of at most MaxStateBytes.
func readCapped(path string) ([]byte, error) {
	b, err := safefile.ReadFile(path, MaxStateBytes)
	if errors.Is(err, safefile.ErrTooLarge) {
		return nil, errTooLarge
	}
	return b, err
}

// readAllCapped reads r to its end, refusing more than MaxStateBytes.
func readAllCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxStateBytes+1))
	if err == nil && len(b) > MaxStateBytes {
		err = errTooLarge
	}
	return b, err
}

// quoted renders a value read from a state for an error message, short.
func quoted(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}

// Decode parses and checks a serialized state for account.
func Decode(b []byte, account string) (State, error) {
	if len(b) > MaxStateBytes {
		return State{}, errTooLarge
	}
	var fs fileState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fs); err != nil {
		return State{}, fmt.Errorf("corrupt: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("corrupt: data after the JSON object")
	}
	switch {
	case fs.Version > FormatVersion:
		return State{}, fmt.Errorf("written by a newer exporter (format version %d, this build reads %d)", fs.Version, FormatVersion)
	case fs.Version < 1:
		return State{}, fmt.Errorf("corrupt: format version %d", fs.Version)
	case fs.Account != account:
		return State{}, fmt.Errorf("belongs to account %s, not %q", quoted(fs.Account), account)
	case fs.Watermark.IsZero():
		return State{}, errors.New("corrupt: no watermark")
	}
	win, err := time.ParseDuration(fs.Window)
	if err != nil || win <= 0 {
		return State{}, fmt.Errorf("corrupt: window %s", quoted(fs.Window))
	}
	lb, err := decodeLookBack(fs.LookBack)
	if err != nil {
		return State{}, err
	}
	return State{Account: fs.Account, Watermark: fs.Watermark.UTC(), Window: win, UpdatedAt: fs.UpdatedAt.UTC(), ExporterVersion: fs.ExporterVersion,
		SealedThrough: fs.SealedThrough.UTC(), LookBack: lb}, nil
}

// Encode serializes st.
func Encode(st State) ([]byte, error) {
	version := 1
	switch {
	case st.LookBack != nil:
		version = 3
	case !st.SealedThrough.IsZero():
		version = 2
	}
	b, err := json.MarshalIndent(fileState{Version: version, Account: st.Account, Watermark: st.Watermark.UTC(),
		Window: st.Window.String(), UpdatedAt: st.UpdatedAt.UTC(), ExporterVersion: st.ExporterVersion, SealedThrough: st.SealedThrough.UTC(),
		LookBack: encodeLookBack(st.LookBack)}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func rev(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Save implements Store: temp file, fsync, rename, fsync the directory.
func (s *FileStore) Save(ctx context.Context, st State) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if s.readOnly {
		return "", errors.New("save state: the store was opened read-only")
	}
	if !accountName.MatchString(st.Account) {
		return "", errclass.Mark(errclass.Config, fmt.Errorf("account %q is not a valid technical name", st.Account))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := s.Path(st.Account)
	cur, err := readCapped(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if st.Rev != "" {
			return "", fmt.Errorf("save state %s: %w (the file was removed)", path, ErrConflict)
		}
	case errors.Is(err, safefile.ErrNotRegular):
		return "", errclass.Mark(errclass.Config, fmt.Errorf("save state: %w; move it away", err))
	case err != nil:
		return "", fmt.Errorf("save state: %w", err)
	case rev(cur) != st.Rev:
		return "", fmt.Errorf("save state %s: %w", path, ErrConflict)
	}
	b, err := Encode(st)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return "", errclass.Mark(errclass.Retryable, fmt.Errorf("save state: %w", err))
	}
	if err := atomicfile.SyncDir(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("save state: fsync %s: %w", s.dir, err)
	}
	return rev(b), nil
}

// Close releases the lock.
func (s *FileStore) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the descriptor drops the flock
	s.lock = nil
	return err
}

// Probe proves the state directory is writable.
func (s *FileStore) Probe(context.Context) error {
	p := filepath.Join(s.dir, ".auditlog-exporter-check-"+atomicfile.RandSuffix())
	if err := atomicfile.WriteFile(p, []byte("probe\n")); err != nil {
		return errclass.Mark(errclass.Config, fmt.Errorf("state directory %s is not writable: %w", s.dir, err))
	}
	return os.Remove(p)
}
