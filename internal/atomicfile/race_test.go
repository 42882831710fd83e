package atomicfile

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// A cleaner of other windows' temporaries may lock a new temporary between
// its creation and its creator's lock: the creator waits and retries
// instead of failing the window.
func TestCreateLockedRacesCleaners(t *testing.T) {
	dir := t.TempDir()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				old, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
				for _, o := range old {
					RemoveIfUnlocked(o)
				}
			}
		}()
	}
	for i := 0; i < 3000; i++ {
		f, _, err := CreateLocked(filepath.Join(dir, ".w.tmp-"))
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("try %d: %v", i, err)
		}
		f.Close() // unlocks: the cleaners remove it
	}
	stop.Store(true)
	wg.Wait()
}
