//go:build !unix

package source

// newSlots allocates a zeroed table on the Go heap (no anonymous mappings
// here; see uuidset_mem_unix.go).
func newSlots(n int) (slots []uint64, mapped bool) { return make([]uint64, n), false }

// freeSlots leaves heap tables to the GC.
func freeSlots([]uint64, bool) {}
