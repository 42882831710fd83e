package sinks

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
)

// JSONL is the JSON lines format: one object per record, UTF-8,
// '\n'-terminated, in its schema.
type JSONL struct {
	// Gzip compresses the stream.
	Gzip bool
	// Schema is what a record is written as; nil: the record schema.
	Schema schema.Schema
}

var _ Format = JSONL{}

func (f JSONL) schema() schema.Schema { return schemaOr(f.Schema) }

// Ext implements Format.
func (f JSONL) Ext() string {
	ext := "jsonl"
	if f.Gzip {
		ext = "jsonl.gz"
	}
	return tagged(f.schema(), ext)
}

// ContentType implements Format.
func (f JSONL) ContentType() string {
	if f.Gzip {
		return "application/gzip"
	}
	return "application/x-ndjson"
}

// NewEncoder implements Format.
func (f JSONL) NewEncoder(w io.Writer, _ audit.Window) (Encoder, error) {
	e := &jsonlEncoder{sc: f.schema()}
	if f.Gzip {
		e.gz = gzip.NewWriter(w)
		w = e.gz
	}
	e.w = w
	return e, nil
}

// Read implements Format.
func (f JSONL) Read(r io.ReaderAt, size int64, fn func(audit.Record) error) error {
	return readJSONL(f.schema(), io.NewSectionReader(r, 0, size), f.Gzip, fn)
}

type jsonlEncoder struct {
	sc  schema.Schema
	w   io.Writer
	gz  *gzip.Writer
	buf []byte
}

// TimeLayout is how record times are written: RFC 3339, UTC, milliseconds.
const TimeLayout = sap.TimeLayout

func (e *jsonlEncoder) Encode(r *audit.Record) error {
	b, err := e.sc.AppendJSON(e.buf[:0], r)
	if err != nil {
		return err
	}
	e.buf = b
	_, err = e.w.Write(b)
	if cap(e.buf) > 1<<20 {
		e.buf = nil // a huge record: do not keep its size for the window
	}
	return err
}

func (e *jsonlEncoder) Close() error {
	if e.gz != nil {
		return e.gz.Close()
	}
	return nil
}

// AppendJSONLine appends r in the record schema as one JSON line, '\n'
// included.
func AppendJSONLine(b []byte, r *audit.Record) ([]byte, error) { return sap.AppendJSONLine(b, r) }

// ReadJSONL reads a JSON lines export in the record schema (gzip when gz)
// and calls fn for each record. Unknown fields and lines that are not one
// JSON object are errors.
func ReadJSONL(r io.Reader, gz bool, fn func(audit.Record) error) error {
	return readJSONL(sap.Schema, r, gz, fn)
}

func readJSONL(sc schema.Schema, r io.Reader, gz bool, fn func(audit.Record) error) error {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer func() { _ = zr.Close() }()
		r = zr
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if line[len(line)-1] != '\n' {
			return fmt.Errorf("line %d: not terminated by a newline", n)
		}
		rec, err := sc.ParseJSON(line[:len(line)-1])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}
