package sinks

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
)

// ParquetRow is the Parquet row of the record schema.
type ParquetRow = sap.ParquetRow

// Footer key/value metadata written into every Parquet file.
const (
	MetaAccount     = "auditlog.account"
	MetaWindowStart = "auditlog.window_start"
	MetaWindowEnd   = "auditlog.window_end"
	MetaRecords     = "auditlog.record_count"
	MetaVersion     = "auditlog.exporter_version"
)

// ParquetRowGroupRows bounds a row group, and with it the rows buffered in
// memory while writing.
const ParquetRowGroupRows = 25_000

// ParquetRowGroupBytes bounds a row group by the size of its rows too: a
// window of large messages (a hostile server's, each page under
// source.max_page_bytes) closes a row group when its records reach this
// size, so the memory a writer holds does not depend on what the server
// sends.
const ParquetRowGroupBytes = 16 << 20

// parquetBatchBytes bounds the records batched before they go to the
// writer, for the same reason. Two batches are held at a time: one filled
// while the other is converted and encoded beside it.
const parquetBatchBytes = 2 << 20

// Parquet is the Parquet format.
type Parquet struct {
	// Compression is zstd (default), snappy or none.
	Compression string
	// Version is the exporter version written into the footer.
	Version string
	// RowGroupRows overrides ParquetRowGroupRows (tests).
	RowGroupRows int
	// Schema is what a record is written as; nil: the record schema.
	Schema schema.Schema
	// SortByTime sorts the rows of each row group by time (Security
	// Lake's layout): a window of up to RowGroupRows records and
	// ParquetRowGroupBytes is one sorted row group. The rows of a row group
	// are held until it is written.
	SortByTime bool
}

var _ Format = Parquet{}

// ParquetCodec returns the codec for a compression name.
func ParquetCodec(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return &pageZstd{}, nil
	case "snappy":
		return &snappy.Codec{}, nil
	case "none":
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("parquet compression %q is not one of: zstd, snappy, none", name)
}

// Ext implements Format.
func (f Parquet) Ext() string { return tagged(schemaOr(f.Schema), "parquet") }

// ContentType implements Format.
func (Parquet) ContentType() string { return "application/vnd.apache.parquet" }

// NewEncoder implements Format.
func (f Parquet) NewEncoder(w io.Writer, win audit.Window) (Encoder, error) {
	codec, err := ParquetCodec(f.Compression)
	if err != nil {
		return nil, err
	}
	rows := f.RowGroupRows
	if rows <= 0 {
		rows = ParquetRowGroupRows
	}
	rowsOf := schemaOr(f.Schema).Parquet()
	opts := []parquet.WriterOption{
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(int64(rows)),
		parquet.CreatedBy("auditlog-exporter", f.Version, ""),
		parquet.KeyValueMetadata(MetaAccount, win.Account),
		parquet.KeyValueMetadata(MetaWindowStart, win.Start.UTC().Format(time.RFC3339)),
		parquet.KeyValueMetadata(MetaWindowEnd, win.End.UTC().Format(time.RFC3339)),
		parquet.KeyValueMetadata(MetaVersion, f.Version),
	}
	for _, col := range rowsOf.Unbounded() {
		path := strings.Split(col, ".")
		opts = append(opts, parquet.SkipPageBounds(path...), parquet.SkipPageStatistics(path...))
	}
	pw := rowsOf.NewWriter(w, schema.Limits{BatchBytes: parquetBatchBytes, GroupBytes: ParquetRowGroupBytes, SortByTime: f.SortByTime, GroupRows: rows}, opts...)
	return &parquetEncoder{w: pw}, nil
}

type parquetEncoder struct {
	w schema.RowWriter
	n int64
}

func (e *parquetEncoder) Encode(r *audit.Record) error {
	e.n++
	return e.w.Write(r)
}

func (e *parquetEncoder) Close() error {
	e.w.SetKeyValueMetadata(MetaRecords, strconv.FormatInt(e.n, 10))
	return e.w.Close()
}

// Abort stops the encoding of an abandoned window.
func (e *parquetEncoder) Abort() { e.w.Abort() }

var _ Aborter = (*parquetEncoder)(nil)

// Read implements Format.
func (f Parquet) Read(r io.ReaderAt, size int64, fn func(audit.Record) error) error {
	_, err := readParquet(schemaOr(f.Schema), r, size, fn)
	return err
}

// ReadParquet reads a Parquet export in the record schema and calls fn for
// each record; it returns the file's footer key/value metadata.
func ReadParquet(r io.ReaderAt, size int64, fn func(audit.Record) error) (map[string]string, error) {
	return readParquet(sap.Schema, r, size, fn)
}

func readParquet(sc schema.Schema, r io.ReaderAt, size int64, fn func(audit.Record) error) (map[string]string, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	return meta, sc.Parquet().Read(f, fn)
}
