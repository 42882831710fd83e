package source

import (
	"bufio"
	"fmt"
	"io"
	"math/bits"
	"os"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// DefaultSpoolPartition is the most records one spool partition is meant
// to hold: draining a partition needs a duplicate check of that size (~2 MiB).
const DefaultSpoolPartition = 64 << 10

// maxSpoolPartitions bounds the files one spooled window opens, whatever
// the server counts: a window of more than maxSpoolPartitions x the
// partition size has larger partitions, not more files.
const maxSpoolPartitions = 64

// spool holds a large window's records on disk, split by Uuid hash into
// partitions, so that duplicates can be found one partition at a time with
// memory that does not grow with the window. A partition's file is created
// on its first record and unlinked at once: nothing is left behind,
// however the process ends.
type spool struct {
	dir    string
	files  []*os.File
	ws     []*bufio.Writer
	counts []int
	buf    []byte
}

// newSpool makes a spool of parts partitions; no file is opened yet.
func newSpool(dir string, parts int) *spool {
	parts = min(max(parts, 1), maxSpoolPartitions)
	return &spool{dir: dir, files: make([]*os.File, parts), ws: make([]*bufio.Writer, parts), counts: make([]int, parts)}
}

// part picks a partition from the key's low bits: the duplicate check
// indexes by the high bits, and keys that share a partition must not share
// those too (they would all probe the same stretch of its table).
func (s *spool) part(key uint64) int {
	hi, _ := bits.Mul64(bits.RotateLeft64(key, 32), uint64(len(s.files)))
	return int(hi)
}

func (s *spool) add(key uint64, r *audit.Record) error {
	p := s.part(key)
	if s.files[p] == nil {
		f, err := os.CreateTemp(s.dir, "auditlog-exporter-spool-*")
		if err != nil {
			return errclass.Mark(errclass.Permanent, fmt.Errorf("spool a large window: %w (export.spool_dir; default the system temp directory)", err))
		}
		_ = os.Remove(f.Name()) // unlinked: the open file is all that is left
		s.files[p], s.ws[p] = f, bufio.NewWriterSize(f, 32<<10)
	}
	s.buf = audit.AppendBinary(s.buf[:0], r)
	if _, err := s.ws[p].Write(s.buf); err != nil {
		return errclass.Mark(errclass.Permanent, fmt.Errorf("spool: %w", err))
	}
	s.counts[p]++
	return nil
}

// drain reads the partitions back one after the other; seen is a fresh
// duplicate check per partition (a Uuid always lands in the same one).
func (s *spool) drain(fn func(r *audit.Record, seen *uuidSet) error) error {
	var r audit.Record
	for i, f := range s.files {
		if f == nil {
			continue
		}
		if err := s.ws[i].Flush(); err != nil {
			return errclass.Mark(errclass.Permanent, fmt.Errorf("spool: %w", err))
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return errclass.Mark(errclass.Permanent, fmt.Errorf("spool: %w", err))
		}
		seen := newUUIDSet(s.counts[i])
		br := bufio.NewReaderSize(f, 64<<10)
		for {
			err := audit.ReadBinary(br, &r)
			if err == io.EOF {
				break
			}
			if err != nil {
				seen.release()
				return errclass.Mark(errclass.Permanent, fmt.Errorf("spool: %w", err))
			}
			if err := fn(&r, seen); err != nil {
				seen.release()
				return err
			}
		}
		seen.release()
		// This partition is done: give its disk space back now.
		_ = f.Truncate(0)
		_ = f.Close()
		s.files[i] = nil
	}
	return nil
}

func (s *spool) close() {
	for _, f := range s.files {
		if f != nil {
			_ = f.Close()
		}
	}
}
