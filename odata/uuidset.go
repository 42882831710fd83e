package odata

import "math/bits"

// uuidSet is the set of Uuid hashes seen in one window: open addressing with
// linear probing over a flat []uint64, 8 bytes per slot at a load of at
// most 3/4 (about 11 bytes a record), a third of what a Go map of uint64
// keys takes for the same million records. Zero marks an empty slot.
type uuidSet struct {
	slots []uint64
	n     int
}

func newUUIDSet(capacity int) *uuidSet {
	return &uuidSet{slots: make([]uint64, max(16, capacity+capacity/3+1))}
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
	old := s.slots
	s.slots = make([]uint64, len(old)*2)
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}
