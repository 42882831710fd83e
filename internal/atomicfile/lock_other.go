//go:build !unix

package atomicfile

import (
	"errors"
	"os"
)

// ErrWouldBlock is returned by TryLock when another process holds the lock.
var ErrWouldBlock = errors.New("locked by another process")

var errNoFlock = errors.New("file locks need a Unix system")

// TryLock fails: file locks need a Unix system.
func TryLock(*os.File) error { return errNoFlock }

// CreateLocked fails: file locks need a Unix system.
func CreateLocked(string) (*os.File, string, error) { return nil, "", errNoFlock }

// RemoveIfUnlocked does nothing without file locks: a file that may be a
// live writer's is never removed.
func RemoveIfUnlocked(string) {}
