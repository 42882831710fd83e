//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"

	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
)

// ErrWouldBlock is returned by TryLock when another process holds the lock.
var ErrWouldBlock = errors.New("locked by another process")

// TryLock takes an exclusive flock on f without waiting. The lock lives
// as long as f is open, and dies with the process.
func TryLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrWouldBlock
	}
	return err
}

// CreateLocked creates prefix+random exclusively and flocks it, making sure
// no cleaner removed it between the two. The caller keeps the file open
// (and so locked) until it is renamed into place or removed.
func CreateLocked(prefix string) (*os.File, string, error) {
	for {
		tmp := prefix + RandSuffix()
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", err
		}
		// Blocking: between the create and the lock, a cleaner (another
		// window's, or another run's) may hold the new file's lock for a
		// moment, about to remove it; wait for it, then see whether the
		// file survived.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			_ = f.Close()
			return nil, "", err
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(tmp)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			return f, tmp, nil
		}
		_ = f.Close()
	}
}

// RemoveIfUnlocked removes path unless a live process holds its flock.
// Anything but a regular file (a FIFO would block the open) is left alone.
func RemoveIfUnlocked(path string) {
	f, err := safefile.Open(path)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	if TryLock(f) == nil {
		_ = os.Remove(path)
	}
}
