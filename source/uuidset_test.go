package source

import (
	"fmt"
	"testing"
)

func TestUUIDSet(t *testing.T) {
	s := newUUIDSet(10) // forced to grow several times
	for i := uint64(0); i < 100_000; i++ {
		if fresh, _ := s.add(i*0x9e3779b97f4a7c15, i); !fresh {
			t.Fatalf("%d reported as seen", i)
		}
	}
	for i := uint64(0); i < 100_000; i++ {
		if fresh, prev := s.add(i*0x9e3779b97f4a7c15, 7); fresh || prev != i {
			t.Fatalf("%d reported as new twice, or its first value %d lost", i, prev)
		}
		if v, ok := s.get(i * 0x9e3779b97f4a7c15); !ok || v != i {
			t.Fatalf("get %d = %d, %v", i, v, ok)
		}
	}
	if _, ok := s.get(12345); ok {
		t.Fatal("get of an absent key")
	}
	if s.n != 100_000 {
		t.Fatalf("n = %d", s.n)
	}
	// 0 is stored as 1: both read as the same key, never as an empty slot.
	z := newUUIDSet(4)
	a, _ := z.add(0, 0)
	b, _ := z.add(0, 0)
	c, _ := z.add(1, 0)
	if !a || b || c {
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
		s.add(i*0x9e3779b97f4a7c15, i)
	}
	a, _ := s.add(42, 1)
	b, _ := s.add(42, 1)
	if !a || b {
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
	sp := newSpool("", 8)
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
		for j := set.index(k); set.slots[2*(j%set.cap())] != 0; j++ {
			probes++
		}
		set.add(k, 0)
	}
	if probes > 5*n {
		t.Fatalf("%d probes for %d keys of one partition: they cluster", probes, n)
	}
}
