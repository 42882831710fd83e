package odata

import (
	"fmt"
	"os"
	"testing"
)

func TestUUIDSet(t *testing.T) {
	s := newUUIDSet(10) // forced to grow several times
	for i := uint64(0); i < 100_000; i++ {
		if !s.add(i * 0x9e3779b97f4a7c15) {
			t.Fatalf("%d reported as seen", i)
		}
	}
	for i := uint64(0); i < 100_000; i++ {
		if s.add(i * 0x9e3779b97f4a7c15) {
			t.Fatalf("%d reported as new twice", i)
		}
	}
	if s.n != 100_000 {
		t.Fatalf("n = %d", s.n)
	}
	// 0 is stored as 1: both read as the same key, never as an empty slot.
	z := newUUIDSet(4)
	if !z.add(0) || z.add(0) || z.add(1) {
		t.Fatal("zero handling")
	}
	if keyOf("3b8a8b-16247c70836-8") == keyOf("3b8a8b-16247c70836-9") {
		t.Fatal("hash")
	}
}

func TestUUIDSetLargeIsMappedAndReleased(t *testing.T) {
	s := newUUIDSet(1 << 20)
	if !s.mapped {
		t.Fatal("a large table should live outside the Go heap")
	}
	for i := uint64(1); i < 1<<20; i++ {
		s.add(i * 0x9e3779b97f4a7c15)
	}
	if !s.add(42) || s.add(42) {
		t.Fatal("set semantics")
	}
	s.release()
	if s.slots != nil {
		t.Fatal("release")
	}
	small := newUUIDSet(10)
	small.release() // a heap table: nothing to unmap
}

// Keys that share a spool partition still spread over the duplicate
// check's table: a partition's keys must not cluster.
func TestSpoolPartitionKeysSpread(t *testing.T) {
	sp := &spool{files: make([]*os.File, 8)}
	set := newUUIDSet(20_000)
	defer set.release()
	probes := 0
	n := 0
	for i := 0; n < 20_000; i++ {
		k := keyOf(fmt.Sprintf("uuid-%d", i))
		if sp.part(k) != 3 {
			continue
		}
		n++
		for j := set.index(k); set.slots[j%len(set.slots)] != 0; j++ {
			probes++
		}
		set.add(k)
	}
	if probes > 5*n {
		t.Fatalf("%d probes for %d keys of one partition: they cluster", probes, n)
	}
}
