// Package atomicfile writes files so that a reader, or the next run after a
// crash, sees either the old content or the new, never a part: a temporary
// file beside the target, fsynced, renamed over it, the directory fsynced.
// It also holds the flock helpers that tell a live writer's temporary file
// from a killed run's leftover.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// RandSuffix is 12 random hex digits for a temporary name.
func RandSuffix() string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return hex.EncodeToString(rnd[:])
}

// WriteFile writes b to path (mode 0600) through path.tmp-<random>:
// written, fsynced, closed and renamed over path. The temporary file is
// removed when anything fails. The directory is not fsynced: call SyncDir
// when the rename must survive a crash.
func WriteFile(path string, b []byte) error {
	return writeFile(path, b, os.Rename)
}

// CreateFile writes b to path whole, like WriteFile, unless path exists:
// then it writes nothing and returns an error that errors.Is
// os.ErrExist. The complete temporary file is hard-linked into place,
// which fails, atomically, when the name is taken.
func CreateFile(path string, b []byte) error {
	return writeFile(path, b, func(tmp, path string) error {
		err := os.Link(tmp, path)
		_ = os.Remove(tmp)
		return err
	})
}

func writeFile(path string, b []byte, place func(tmp, path string) error) error {
	tmp := path + ".tmp-" + RandSuffix()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// SyncDir fsyncs a directory so that a rename in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
