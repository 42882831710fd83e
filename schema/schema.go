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
	// copies of the longest values while a row group is written).
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

// rowWriter batches rows before they go to the writer, and closes row
// groups by size.
type rowWriter[T any] struct {
	w     *parquet.GenericWriter[T]
	p     parquetOf[T]
	lim   Limits
	batch []T
	// batchBytes and groupBytes are the sizes of the rows batched and of
	// those in the row group being written.
	batchBytes, groupBytes int
}

// batchRows is how many rows are converted before they go to the writer.
const batchRows = 512

func (rw *rowWriter[T]) Write(r *audit.Record) error {
	if rw.batch == nil {
		rw.batch = make([]T, 0, batchRows)
	}
	row, err := rw.p.to(r)
	if err != nil {
		return err
	}
	rw.batch = append(rw.batch, row)
	rw.batchBytes += rw.p.size(r)
	if rw.lim.SortByTime {
		// A sorted row group is written at once, when it is full.
		if len(rw.batch) >= rw.lim.GroupRows || rw.batchBytes >= rw.lim.GroupBytes {
			return rw.write()
		}
		return nil
	}
	if len(rw.batch) == cap(rw.batch) || rw.batchBytes >= rw.lim.BatchBytes {
		return rw.write()
	}
	return nil
}

func (rw *rowWriter[T]) write() error {
	if len(rw.batch) == 0 {
		return nil
	}
	if rw.lim.SortByTime {
		slices.SortStableFunc(rw.batch, func(a, b T) int { return cmp.Compare(rw.p.timeOf(&a), rw.p.timeOf(&b)) })
	}
	_, err := rw.w.Write(rw.batch)
	clear(rw.batch) // drop references to the strings
	rw.batch = rw.batch[:0]
	rw.groupBytes += rw.batchBytes
	rw.batchBytes = 0
	if err == nil && (rw.lim.SortByTime || rw.groupBytes >= rw.lim.GroupBytes) {
		err = rw.w.Flush() // close the row group: its buffers go to the file
		rw.groupBytes = 0
	}
	return err
}

func (rw *rowWriter[T]) SetKeyValueMetadata(key, value string) { rw.w.SetKeyValueMetadata(key, value) }

func (rw *rowWriter[T]) Close() error {
	if err := rw.write(); err != nil {
		return err
	}
	return rw.w.Close()
}
