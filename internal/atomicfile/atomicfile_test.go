package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteFile(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("got %q, %v; want %q", b, err, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(p + ".tmp-*"); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// A directory that is not there: an error, nothing left behind.
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Fatal("no error writing into a missing directory")
	}
}

func TestLocks(t *testing.T) {
	dir := t.TempDir()
	f, tmp, err := CreateLocked(filepath.Join(dir, ".x.tmp-"))
	if err != nil {
		t.Fatal(err)
	}
	RemoveIfUnlocked(tmp) // held: stays
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a held file was removed: %v", err)
	}
	g, err := os.Open(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := TryLock(g); err != ErrWouldBlock {
		t.Fatalf("TryLock on a held file: %v, want ErrWouldBlock", err)
	}
	f.Close() // released: the next cleaner removes it
	RemoveIfUnlocked(tmp)
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("an unheld leftover stayed: %v", err)
	}
}
