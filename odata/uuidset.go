package odata

import "math/bits"

// uuidSet is the set of Uuid hashes seen in one window: open addressing with
// linear probing over a flat []uint64, 8 bytes per slot at a load of at
// most 3/4 (about 11 bytes a record), a third of what a Go map of uint64
// keys takes for the same million records, and outside the Go heap when
// large. Zero marks an empty slot. Call release when done.
type uuidSet struct {
	slots  []uint64
	mapped bool // slots live outside the Go heap (see newSlots)
	n      int
}

func newUUIDSet(capacity int) *uuidSet {
	s := &uuidSet{}
	s.slots, s.mapped = newSlots(max(16, capacity+capacity/3+1))
	return s
}

// add inserts h and reports whether it was new.
func (s *uuidSet) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	for i := s.index(h); ; i++ {
		if i == len(s.slots) {
			i = 0
		}
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

// index maps h onto the table without a division (Lemire's fastrange).
func (s *uuidSet) index(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(s.slots)))
	return int(hi)
}

func (s *uuidSet) grow() {
	old, oldMapped := s.slots, s.mapped
	s.slots, s.mapped = newSlots(len(old) * 2)
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
	freeSlots(old, oldMapped)
}

// release returns the table's memory.
func (s *uuidSet) release() {
	freeSlots(s.slots, s.mapped)
	s.slots, s.mapped = nil, false
}
