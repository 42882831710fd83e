package sinks

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
)

// ParquetRow is the Parquet schema of an exported record: the columns and
// types of the product's schema table.
type ParquetRow struct {
	UUID          string  `parquet:"uuid"`
	Time          int64   `parquet:"time,timestamp(millisecond:utc)"`
	Category      string  `parquet:"category,dict"`
	User          string  `parquet:"user"`
	Tenant        string  `parquet:"tenant,dict"`
	Account       string  `parquet:"account,dict"`
	Application   *string `parquet:"application,optional,dict"` // null for Cloud Foundry records
	Message       string  `parquet:"message"`
	InstanceID    *string `parquet:"instance_id,optional"`
	FormatVersion string  `parquet:"format_version,dict"`
	// Cloud Foundry's own columns, null for Neo records.
	OrgID          *string `parquet:"org_id,optional,dict"`
	SpaceID        *string `parquet:"space_id,optional,dict"`
	AppOrServiceID *string `parquet:"app_or_service_id,optional,dict"`
	ALSServiceID   *string `parquet:"als_service_id,optional,dict"`
	Source         string  `parquet:"source,dict"` // neo or cf
}

// rowOf converts a record to a row.
func rowOf(r *audit.Record) ParquetRow {
	row := ParquetRow{UUID: r.UUID, Time: r.Time.UnixMilli(), Category: r.Category, User: r.User, Tenant: r.Tenant,
		Account: r.Account, Message: r.Message, InstanceID: r.InstanceID, FormatVersion: r.FormatVersion, Source: r.Source()}
	if r.CF != nil {
		cf := *r.CF // the record is reused by its producer: the row keeps its own copy
		row.OrgID, row.SpaceID, row.AppOrServiceID, row.ALSServiceID = &cf.OrgID, &cf.SpaceID, &cf.AppOrServiceID, &cf.ALSServiceID
	} else {
		app := r.Application
		row.Application = &app
	}
	return row
}

// Record converts a row back to a record.
func (p *ParquetRow) Record() audit.Record {
	r := audit.Record{UUID: p.UUID, Time: time.UnixMilli(p.Time).UTC(), Category: p.Category, User: p.User, Tenant: p.Tenant,
		Account: p.Account, Message: p.Message, InstanceID: p.InstanceID, FormatVersion: p.FormatVersion}
	if p.Application != nil {
		r.Application = *p.Application
	}
	if p.Source == audit.SourceCF {
		r.CF = &audit.CFFields{OrgID: deref(p.OrgID), SpaceID: deref(p.SpaceID), AppOrServiceID: deref(p.AppOrServiceID), ALSServiceID: deref(p.ALSServiceID)}
	}
	return r
}

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

// ParquetRowGroupBytes bounds a row group by the size of its text too: a
// window of large messages (a hostile server's, each page under
// source.max_page_bytes) closes a row group when its records reach this
// size, so the memory a writer holds does not depend on what the server
// sends.
const ParquetRowGroupBytes = 16 << 20

// parquetBatchBytes bounds the records batched before they go to the
// writer, for the same reason.
const parquetBatchBytes = 4 << 20

// Parquet is the Parquet format.
type Parquet struct {
	// Compression is zstd (default), snappy or none.
	Compression string
	// Version is the exporter version written into the footer.
	Version string
	// RowGroupRows overrides ParquetRowGroupRows (tests).
	RowGroupRows int
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
func (Parquet) Ext() string { return "parquet" }

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
	pw := parquet.NewGenericWriter[ParquetRow](w,
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(int64(rows)),
		// No page min/max for free text and random ids: they help no query,
		// and the footer would hold them for every page until Close.
		parquet.SkipPageBounds("message"), parquet.SkipPageBounds("user"), parquet.SkipPageBounds("uuid"),
		// Nor statistics in their page headers: they would hold a copy of
		// the longest value (min and max) while the row group is written.
		parquet.SkipPageStatistics("message"), parquet.SkipPageStatistics("user"), parquet.SkipPageStatistics("uuid"),
		parquet.CreatedBy("auditlog-exporter", f.Version, ""),
		parquet.KeyValueMetadata(MetaAccount, win.Account),
		parquet.KeyValueMetadata(MetaWindowStart, win.Start.UTC().Format(time.RFC3339)),
		parquet.KeyValueMetadata(MetaWindowEnd, win.End.UTC().Format(time.RFC3339)),
		parquet.KeyValueMetadata(MetaVersion, f.Version),
	)
	return &parquetEncoder{w: pw, batch: make([]ParquetRow, 0, parquetBatch)}, nil
}

const parquetBatch = 512

type parquetEncoder struct {
	w     *parquet.GenericWriter[ParquetRow]
	batch []ParquetRow
	n     int64
	// batchBytes and groupBytes are the text sizes of the records batched
	// and of those in the row group being written.
	batchBytes, groupBytes int
}

func (e *parquetEncoder) Encode(r *audit.Record) error {
	e.batch = append(e.batch, rowOf(r))
	e.n++
	e.batchBytes += r.TextSize()
	if len(e.batch) == cap(e.batch) || e.batchBytes >= parquetBatchBytes {
		return e.flush()
	}
	return nil
}

func (e *parquetEncoder) flush() error {
	if len(e.batch) == 0 {
		return nil
	}
	_, err := e.w.Write(e.batch)
	clear(e.batch) // drop references to the strings
	e.batch = e.batch[:0]
	e.groupBytes += e.batchBytes
	e.batchBytes = 0
	if err == nil && e.groupBytes >= ParquetRowGroupBytes {
		err = e.w.Flush() // close the row group: its buffers go to the file
		e.groupBytes = 0
	}
	return err
}

func (e *parquetEncoder) Close() error {
	if err := e.flush(); err != nil {
		return err
	}
	e.w.SetKeyValueMetadata(MetaRecords, strconv.FormatInt(e.n, 10))
	return e.w.Close()
}

// ReadParquet reads a Parquet export and calls fn for each record; it
// returns the file's footer key/value metadata.
func ReadParquet(r io.ReaderAt, size int64, fn func(audit.Record) error) (map[string]string, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	rd := parquet.NewGenericReader[ParquetRow](f)
	defer rd.Close()
	buf := make([]ParquetRow, 256)
	for {
		n, err := rd.Read(buf)
		for i := range buf[:n] {
			if ferr := fn(buf[i].Record()); ferr != nil {
				return meta, ferr
			}
		}
		if err == io.EOF {
			return meta, nil
		}
		if err != nil {
			return meta, err
		}
	}
}
