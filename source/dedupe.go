package source

import (
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// DefaultSpillThreshold is the window size (records) above which a window
// is deduplicated through spool files on disk instead of in memory.
const DefaultSpillThreshold = 125_000

// DedupeConfig sizes a window's duplicate check.
type DedupeConfig struct {
	// SpillThreshold: once a window has served this many distinct records,
	// the rest are deduplicated through spool files in SpoolDir instead of
	// in memory; default DefaultSpillThreshold.
	SpillThreshold int64
	// SpoolDir holds the (unlinked) spool files; default os.TempDir().
	SpoolDir string
	// SpoolPartition is the records per spool partition; default
	// DefaultSpoolPartition (tests lower it).
	SpoolPartition int64
	// Seed keys the content hash that tells a conflicting copy of a Uuid
	// from a repeated one; one per client.
	Seed maphash.Seed
}

func (c DedupeConfig) withDefaults() DedupeConfig {
	if c.SpillThreshold <= 0 {
		c.SpillThreshold = DefaultSpillThreshold
	}
	if c.SpoolPartition <= 0 {
		c.SpoolPartition = DefaultSpoolPartition
	}
	return c
}

// Listing is what one pass over a window's rows saw.
type Listing struct {
	Rows, Distinct int64
	sum, xor       uint64 // an order-independent fingerprint of the distinct Uuid hashes
	// Conflict is the Uuid of one record served again with other content,
	// "" if none: served text, to be shortened and scrubbed before a log.
	Conflict string
}

// SameSet reports whether two listings served the same distinct Uuids.
func (l Listing) SameSet(o Listing) bool {
	return l.Distinct == o.Distinct && l.sum == o.sum && l.xor == o.xor
}

// Deduper passes each Uuid of one window's listing on once, with memory
// bounded by configuration whatever the window holds: up to SpillThreshold
// distinct records in an in-memory set of hashes (about 22 bytes a record),
// the rest through a spool on disk, deduplicated one partition at a time
// when the listing ends. Records outside the window (the query is padded)
// are counted, not passed on. Without emit it only fingerprints the
// listing (a second listing).
type Deduper struct {
	cfg   DedupeConfig
	w     audit.Window
	emit  func(*audit.Record) error
	st    *Stats
	l     Listing
	mem   *uuidSet
	spool *spool
	buf   []byte

	// fresh counts rows that brought something new: a Uuid not served
	// before, inside the window (after a spill, a row inside the window
	// whose Uuid is not among those held in memory). stallAt is fresh at
	// the last page that brought something, stalled the pages since.
	fresh, stallAt int64
	stalled        int
}

// MaxStalledPages is how many pages in a row may bring nothing new (only
// records served before, or records outside the window) while the server
// still points at a next page. A listing that shifts while it is paged
// repeats some records on a page, never twenty pages of them; a server
// whose fresh nextLinks or handles serve the same records again would
// otherwise be followed to source.max_pages_per_window.
const MaxStalledPages = 20

// ErrNoProgress is wrapped by the error of a listing whose pages stopped
// bringing anything new.
var ErrNoProgress = errors.New("the listing is not progressing")

// NextPage is called when a page has been added and the server points at
// a next one: it fails with ErrNoProgress after MaxStalledPages pages in a
// row that brought nothing new.
func (d *Deduper) NextPage() error {
	if d.fresh > d.stallAt {
		d.stallAt, d.stalled = d.fresh, 0
		return nil
	}
	if d.stalled++; d.stalled >= MaxStalledPages {
		return fmt.Errorf("%d pages in a row served only records already served or outside the window, and still point at a next page: %w", d.stalled, ErrNoProgress)
	}
	return nil
}

// NewDeduper starts the duplicate check of one listing of w. emit gets
// each new record inside w (nil: fingerprint only); st counts what was
// passed on, dropped and left outside. Close it when done.
func NewDeduper(cfg DedupeConfig, w audit.Window, emit func(*audit.Record) error, st *Stats) *Deduper {
	return &Deduper{cfg: cfg.withDefaults(), w: w, emit: emit, st: st, mem: newUUIDSet(1024)}
}

// Add takes one served row. countHint, when the server counted the
// listing (else -1), sizes the spool should the window spill.
func (d *Deduper) Add(r *audit.Record, countHint int64) error {
	d.l.Rows++
	key := keyOf(r.UUID)
	if d.spool != nil {
		if _, known := d.mem.get(key); !known && d.w.Contains(r.Time) {
			d.fresh++
		}
		return d.spool.add(key, r)
	}
	content := d.contentOf(r)
	fresh, prev := d.mem.add(key, content)
	if err := d.settle(r, key, content, fresh, prev); err != nil {
		return err
	}
	if d.mem.n >= int(d.cfg.SpillThreshold) {
		// Enough in memory: the rest of the window goes to disk, in as
		// many partitions as the count suggests (capped).
		hint := max(countHint, 2*d.cfg.SpillThreshold)
		d.spool = newSpool(d.cfg.SpoolDir, int((hint+d.cfg.SpoolPartition-1)/d.cfg.SpoolPartition))
	}
	return nil
}

// Finish ends the listing: it drains the spool, if the window spilled, and
// returns what the listing saw.
func (d *Deduper) Finish() (Listing, error) {
	if d.spool != nil {
		err := d.spool.drain(func(r *audit.Record, seen *uuidSet) error {
			key, content := keyOf(r.UUID), d.contentOf(r)
			if prev, ok := d.mem.get(key); ok {
				return d.settle(r, key, content, false, prev)
			}
			fresh, prev := seen.add(key, content)
			return d.settle(r, key, content, fresh, prev)
		})
		if err != nil {
			return d.l, err
		}
	}
	return d.l, nil
}

// Listing is what the listing saw so far.
func (d *Deduper) Listing() Listing { return d.l }

// Close gives back the memory and spool files.
func (d *Deduper) Close() {
	d.mem.release()
	if d.spool != nil {
		d.spool.close()
	}
}

func (d *Deduper) contentOf(r *audit.Record) uint64 {
	d.buf = audit.AppendBinary(d.buf[:0], r)
	h := maphash.Bytes(d.cfg.Seed, d.buf)
	if cap(d.buf) > 1<<20 {
		d.buf = nil // a huge record: do not keep its size for the window
	}
	return h
}

func (d *Deduper) settle(r *audit.Record, key, content uint64, fresh bool, prev uint64) error {
	if !fresh {
		if d.emit != nil {
			d.st.Duplicates++
			if prev != content {
				d.st.Conflicts++
				if d.l.Conflict == "" {
					d.l.Conflict = r.UUID
				}
			}
		}
		return nil
	}
	d.l.Distinct++
	d.l.sum += key
	d.l.xor ^= key
	if d.spool == nil && d.w.Contains(r.Time) {
		d.fresh++ // (rows settled while draining a spool were counted when spooled)
	}
	if d.emit == nil {
		return nil
	}
	if !d.w.Contains(r.Time) {
		d.st.Outside++
		return nil
	}
	if err := d.emit(r); err != nil {
		return err
	}
	d.st.Records++
	return nil
}

// keyOf is a 64-bit hash of a Uuid (FNV-1a, then an avalanche): a window's dedupe set holds 8
// bytes per record instead of a string. Two distinct Uuids that collide
// (probability about 3e-8 in a window of a million records) would make the
// second look like a duplicate; the window then holds fewer distinct
// records than the server's @odata.count and fails loudly (ErrIncomplete)
// instead of losing the record (or, for a source with no count, verify
// finds it short).
func keyOf(uuid string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(uuid); i++ {
		h ^= uint64(uuid[i])
		h *= prime
	}
	// FNV-1a mixes its high bits poorly for keys that differ only at the
	// end; the duplicate check indexes by high bits and the spool
	// partitions by low ones, so finish with MurmurHash3's avalanche.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
