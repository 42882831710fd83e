// Package schema says what an audit record is written as. A Schema maps
// audit.Record to what a sink writes and back: the record schema (package
// sap) or OCSF events (package ocsf). Encodings (JSON lines, Parquet, in
// package sinks) take a Schema, so a new schema is one package and a new
// encoding one Format, not a cross product of both.
//
// Every schema reads back to the very record it was written from: verify,
// repair and deltas read committed objects as records, whatever their
// schema.
package schema

import (
	"cmp"
	"io"
	"slices"
	"sync"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/parquet-go/parquet-go"
)

// Schema maps records to what is written and back.
type Schema interface {
	// Name is the name in the configuration ("sap", "ocsf").
	Name() string
	// Tag goes before the encoding's extension in object names ("" for
	// the record schema, "ocsf" for "<name>.ocsf.jsonl"), so two schemas
	// never write the same object.
	Tag() string
	// AppendJSON appends r as one JSON object and a '\n'.
	AppendJSON(b []byte, r *audit.Record) ([]byte, error)
	// ParseJSON reads back one line AppendJSON wrote (without its '\n').
	// Unknown members are an error.
	ParseJSON(line []byte) (audit.Record, error)
	// Parquet is the schema's Parquet mapping.
	Parquet() Parquet
}

// Parquet is a schema's Parquet rows.
type Parquet interface {
	// NewWriter starts writing rows to w, within lim.
	NewWriter(w io.Writer, lim Limits, opts ...parquet.WriterOption) RowWriter
	// Read calls fn with each record of f, in order.
	Read(f *parquet.File, fn func(audit.Record) error) error
	// Unbounded are columns of free text and random ids: no page bounds
	// nor statistics are kept for them (they help no query, and would hold
	// copies of the longest values while a row group is written), each a
	// column path with dots between its parts ("metadata.uid").
	Unbounded() []string
}

// Limits bound what a RowWriter holds in memory, whatever the records'
// sizes (a hostile server's pages may hold huge messages).
type Limits struct {
	// BatchBytes: rows converted and held before they go to the writer.
	BatchBytes int
	// GroupBytes: the row group is closed (its buffers go to the file)
	// once its rows reach this size.
	GroupBytes int
	// SortByTime sorts each row group's rows by time: the rows of a row
	// group (up to GroupBytes and GroupRows) are held until it closes.
	SortByTime bool
	// GroupRows is the most rows a row group holds (with SortByTime).
	GroupRows int
}

// RowWriter writes records as rows.
type RowWriter interface {
	// Write adds r; r may be reused once Write returns.
	Write(r *audit.Record) error
	// SetKeyValueMetadata sets a footer key before Close.
	SetKeyValueMetadata(key, value string)
	// Close writes the footer; it does not close the underlying writer.
	Close() error
	// Abort stops writing, for a window abandoned before Close; it
	// returns once nothing more is written.
	Abort()
}

// ParquetOf is the Parquet mapping of a row type T: to converts a record to
// a row, from converts a row back, size is what a row of the record holds
// in memory (about), timeOf is a row's time (for sorting), unbounded lists
// the free-text columns.
func ParquetOf[T any](to func(*audit.Record) (T, error), from func(*T) (audit.Record, error), size func(*audit.Record) int, timeOf func(*T) int64, unbounded ...string) Parquet {
	return parquetOf[T]{to: to, from: from, size: size, timeOf: timeOf, unbounded: unbounded}
}

type parquetOf[T any] struct {
	to        func(*audit.Record) (T, error)
	from      func(*T) (audit.Record, error)
	size      func(*audit.Record) int
	timeOf    func(*T) int64
	unbounded []string
}

func (p parquetOf[T]) Unbounded() []string { return p.unbounded }

func (p parquetOf[T]) NewWriter(w io.Writer, lim Limits, opts ...parquet.WriterOption) RowWriter {
	return &rowWriter[T]{w: parquet.NewGenericWriter[T](w, opts...), p: p, lim: lim}
}

func (p parquetOf[T]) Read(f *parquet.File, fn func(audit.Record) error) error {
	rd := parquet.NewGenericReader[T](f)
	defer func() { _ = rd.Close() }()
	buf := make([]T, 256)
	for {
		n, err := rd.Read(buf)
		for i := range buf[:n] {
			r, cerr := p.from(&buf[i])
			if cerr != nil {
				return cerr
			}
			if ferr := fn(r); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// rowWriter batches records and hands each batch to a worker goroutine
// that converts it to rows and writes them, so that converting and
// encoding (the costly part of a rich schema) run beside the fetching of
// the next records. At most two batches are held: the one being filled
// and the one being written (Limits bound each). Row groups close by size.
type rowWriter[T any] struct {
	w   *parquet.GenericWriter[T]
	p   parquetOf[T]
	lim Limits

	batch      []audit.Record // being filled
	batchBytes int
	work       chan []audit.Record // to the worker
	spare      chan []audit.Record // emptied batches, back for reuse
	done       chan struct{}       // closed when the worker has exited
	mu         sync.Mutex
	err        error // the worker's first error
	stop       bool  // aborted: the worker drops what it is given
	meta       [][2]string

	// The worker's own.
	rows       []T
	groupBytes int
}

// batchRows is how many records are batched before they are written.
const batchRows = 512

// failed is the worker's first error.
func (rw *rowWriter[T]) failed() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.err
}

func (rw *rowWriter[T]) Write(r *audit.Record) error {
	if err := rw.failed(); err != nil {
		return err
	}
	if rw.batch == nil {
		rw.batch = make([]audit.Record, 0, batchRows)
	}
	// The caller reuses r: keep a copy (its strings are immutable).
	c := *r
	if r.CF != nil {
		cf := *r.CF
		c.CF = &cf
	}
	if r.InstanceID != nil {
		id := *r.InstanceID
		c.InstanceID = &id
	}
	rw.batch = append(rw.batch, c)
	rw.batchBytes += rw.p.size(r)
	full := len(rw.batch) >= batchRows || rw.batchBytes >= rw.lim.BatchBytes
	if rw.lim.SortByTime {
		// A sorted row group is written at once, when it is full.
		full = len(rw.batch) >= rw.lim.GroupRows || rw.batchBytes >= rw.lim.GroupBytes
	}
	if full {
		rw.handOff()
	}
	return nil
}

// handOff gives the batch to the worker (started on the first), waiting
// while it writes the one before.
func (rw *rowWriter[T]) handOff() {
	if len(rw.batch) == 0 {
		return
	}
	if rw.work == nil {
		rw.work, rw.spare, rw.done = make(chan []audit.Record), make(chan []audit.Record, 2), make(chan struct{})
		go rw.worker()
	}
	rw.work <- rw.batch
	rw.batchBytes = 0
	select {
	case b := <-rw.spare:
		rw.batch = b
	default:
		rw.batch = make([]audit.Record, 0, batchRows)
	}
}

func (rw *rowWriter[T]) worker() {
	defer close(rw.done)
	for recs := range rw.work {
		rw.mu.Lock()
		skip := rw.err != nil || rw.stop
		rw.mu.Unlock()
		if !skip {
			if err := rw.write(recs); err != nil {
				rw.mu.Lock()
				rw.err = err
				rw.mu.Unlock()
			}
		}
		clear(recs) // drop references to the strings
		select {
		case rw.spare <- recs[:0]:
		default:
		}
	}
}

// write converts recs and writes their rows (the worker's).
func (rw *rowWriter[T]) write(recs []audit.Record) error {
	rw.rows = rw.rows[:0]
	bytes := 0
	for i := range recs {
		row, err := rw.p.to(&recs[i])
		if err != nil {
			return err
		}
		rw.rows = append(rw.rows, row)
		bytes += rw.p.size(&recs[i])
	}
	if rw.lim.SortByTime {
		slices.SortStableFunc(rw.rows, func(a, b T) int { return cmp.Compare(rw.p.timeOf(&a), rw.p.timeOf(&b)) })
	}
	_, err := rw.w.Write(rw.rows)
	clear(rw.rows) // drop references to the strings
	rw.groupBytes += bytes
	if err == nil && (rw.lim.SortByTime || rw.groupBytes >= rw.lim.GroupBytes) {
		err = rw.w.Flush() // close the row group: its buffers go to the file
		rw.groupBytes = 0
	}
	return err
}

// finish hands off what is batched and waits for the worker to write it.
func (rw *rowWriter[T]) finish() error {
	if rw.failed() == nil {
		rw.handOff()
	}
	if rw.work != nil {
		close(rw.work)
		<-rw.done
		rw.work = nil
	}
	return rw.failed()
}

func (rw *rowWriter[T]) SetKeyValueMetadata(key, value string) {
	rw.meta = append(rw.meta, [2]string{key, value})
}

func (rw *rowWriter[T]) Close() error {
	if err := rw.finish(); err != nil {
		return err
	}
	for _, kv := range rw.meta {
		rw.w.SetKeyValueMetadata(kv[0], kv[1])
	}
	return rw.w.Close()
}

// Abort stops the worker, writing nothing more.
func (rw *rowWriter[T]) Abort() {
	rw.mu.Lock()
	rw.stop = true
	rw.mu.Unlock()
	rw.batch = rw.batch[:0]
	_ = rw.finish()
}
