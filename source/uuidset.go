package source

import "math/bits"

// uuidSet maps the Uuid hashes seen in one window to a hash of the first
// copy's content: open addressing with linear probing over a flat []uint64
// of key/value pairs, 16 bytes per slot at a load of at most 3/4 (about 22
// bytes a record), outside the Go heap when large. A zero key marks an
// empty slot. Call release when done.
type uuidSet struct {
	slots  []uint64 // key, value, key, value, ...
	mapped bool     // slots live outside the Go heap (see newSlots)
	n      int
}

func newUUIDSet(capacity int) *uuidSet {
	s := &uuidSet{}
	s.slots, s.mapped = newSlots(2 * max(16, capacity+capacity/3+1))
	return s
}

func (s *uuidSet) cap() int { return len(s.slots) / 2 }

// add inserts key h with value v unless h is present. It reports whether
// h was new and, if not, the value stored with it.
func (s *uuidSet) add(h, v uint64) (fresh bool, prev uint64) {
	if h == 0 {
		h = 1
	}
	if (s.n+1)*4 > s.cap()*3 {
		s.grow()
	}
	for i := s.index(h); ; i++ {
		if i == s.cap() {
			i = 0
		}
		switch s.slots[2*i] {
		case 0:
			s.slots[2*i], s.slots[2*i+1] = h, v
			s.n++
			return true, 0
		case h:
			return false, s.slots[2*i+1]
		}
	}
}

// get returns the value stored with h.
func (s *uuidSet) get(h uint64) (uint64, bool) {
	if h == 0 {
		h = 1
	}
	for i := s.index(h); ; i++ {
		if i == s.cap() {
			i = 0
		}
		switch s.slots[2*i] {
		case 0:
			return 0, false
		case h:
			return s.slots[2*i+1], true
		}
	}
}

// index maps h onto the table without a division (Lemire's fastrange).
func (s *uuidSet) index(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(s.cap()))
	return int(hi)
}

func (s *uuidSet) grow() {
	old, oldMapped := s.slots, s.mapped
	s.slots, s.mapped = newSlots(len(old) * 2)
	s.n = 0
	for i := 0; i < len(old); i += 2 {
		if old[i] != 0 {
			s.add(old[i], old[i+1])
		}
	}
	freeSlots(old, oldMapped)
}

// release returns the table's memory.
func (s *uuidSet) release() {
	freeSlots(s.slots, s.mapped)
	s.slots, s.mapped = nil, false
}
