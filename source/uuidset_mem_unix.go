//go:build unix

package source

import (
	"syscall"
	"unsafe"
)

// newSlots allocates a zeroed table, large ones outside the Go heap (an
// anonymous mapping): the garbage collector neither scans it nor counts it
// when it sets the next heap goal, so a window's dedupe set costs its own
// size in memory, not twice that. mapped tells freeSlots to unmap it.
func newSlots(n int) (slots []uint64, mapped bool) {
	if n < 1<<16 {
		return make([]uint64, n), false
	}
	b, err := syscall.Mmap(-1, 0, n*8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n), false
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n), true
}

// freeSlots unmaps a table newSlots mapped; heap tables are left to the GC.
func freeSlots(s []uint64, mapped bool) {
	if !mapped || len(s) == 0 {
		return
	}
	_ = syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*8))
}
