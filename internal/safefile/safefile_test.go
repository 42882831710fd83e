package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("secret-for-tests"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// 1 GiB, sparse: refused by its size, never read.
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{small, nil},
		{big, ErrTooLarge},
		{fifo, ErrNotRegular},
		{dir, ErrNotRegular},
		{"/dev/zero", ErrNotRegular},
		{filepath.Join(dir, "missing"), os.ErrNotExist},
	} {
		b, err := ReadFile(tc.path, 1<<20)
		if !errors.Is(err, tc.want) || (tc.want == nil && string(b) != "secret-for-tests") {
			t.Errorf("ReadFile(%s) = %q, %v; want %v", tc.path, b, err, tc.want)
		}
	}
}
