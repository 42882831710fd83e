// Package sap is the record schema: an audit record as SAP's API gave it,
// the same names in JSON lines and Parquet columns (the product's record
// schema table), one schema for Neo and Cloud Foundry records.
package sap

import (
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Schema is the record schema.
var Schema schema.Schema = recordSchema{}

type recordSchema struct{}

var parquetRows = schema.ParquetOf(func(r *audit.Record) (ParquetRow, error) { return RowOf(r), nil }, func(p *ParquetRow) (audit.Record, error) { return p.Record(), nil },
	func(r *audit.Record) int { return r.TextSize() }, func(p *ParquetRow) int64 { return p.Time }, "message", "user", "uuid")

func (recordSchema) Name() string            { return "sap" }
func (recordSchema) Tag() string             { return "" }
func (recordSchema) Parquet() schema.Parquet { return parquetRows }
func (recordSchema) AppendJSON(b []byte, r *audit.Record) ([]byte, error) {
	return AppendJSONLine(b, r)
}
func (recordSchema) ParseJSON(line []byte) (audit.Record, error) { return ParseJSONLine(line) }

// ParquetRow is the Parquet schema of an exported record: the columns and types
// of the product's schema table.
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

// RowOf converts a record to a row.
func RowOf(r *audit.Record) ParquetRow {
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

// TimeLayout is how record times are written: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// AppendJSONLine appends r as one JSON line, '\n' included.
func AppendJSONLine(b []byte, r *audit.Record) ([]byte, error) {
	b, err := AppendJSON(b, r)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// AppendJSON appends r as one JSON object, fields in schema order.
func AppendJSON(b []byte, r *audit.Record) ([]byte, error) {
	var err error
	field := func(name, v string) {
		if err != nil {
			return
		}
		b = append(b, name...)
		b, err = jsontext.AppendQuote(b, v)
	}
	field(`{"uuid":`, r.UUID)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().Truncate(time.Millisecond).AppendFormat(b, TimeLayout)
	b = append(b, '"')
	field(`,"category":`, r.Category)
	field(`,"user":`, r.User)
	field(`,"tenant":`, r.Tenant)
	field(`,"account":`, r.Account)
	if r.CF != nil {
		b = append(b, `,"application":null`...)
	} else {
		field(`,"application":`, r.Application)
	}
	field(`,"message":`, r.Message)
	if r.InstanceID == nil {
		b = append(b, `,"instance_id":null`...)
	} else {
		field(`,"instance_id":`, *r.InstanceID)
	}
	field(`,"format_version":`, r.FormatVersion)
	if r.CF != nil {
		field(`,"org_id":`, r.CF.OrgID)
		field(`,"space_id":`, r.CF.SpaceID)
		field(`,"app_or_service_id":`, r.CF.AppOrServiceID)
		field(`,"als_service_id":`, r.CF.ALSServiceID)
		b = append(b, `,"source":"cf"}`...)
	} else {
		b = append(b, `,"source":"neo"}`...)
	}
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", r.UUID, err)
	}
	return b, nil
}

// jsonLine is the JSON lines schema, for reading exports back.
type jsonLine struct {
	UUID          string  `json:"uuid"`
	Time          string  `json:"time"`
	Category      string  `json:"category"`
	User          string  `json:"user"`
	Tenant        string  `json:"tenant"`
	Account       string  `json:"account"`
	Application   *string `json:"application"`
	Message       string  `json:"message"`
	InstanceID    *string `json:"instance_id"`
	FormatVersion string  `json:"format_version"`
	// Cloud Foundry's own fields, on CF lines only.
	OrgID          *string `json:"org_id"`
	SpaceID        *string `json:"space_id"`
	AppOrServiceID *string `json:"app_or_service_id"`
	ALSServiceID   *string `json:"als_service_id"`
	// Source is neo or cf; absent in exports written before it existed
	// (which are Neo's).
	Source string `json:"source"`
}

// ParseJSONLine reads back one record that AppendJSON wrote. Unknown
// members are an error.
func ParseJSONLine(line []byte) (audit.Record, error) {
	var jl jsonLine
	if err := json.Unmarshal(line, &jl, json.RejectUnknownMembers(true)); err != nil {
		return audit.Record{}, err
	}
	t, err := time.Parse(TimeLayout, jl.Time)
	if err != nil {
		return audit.Record{}, fmt.Errorf("time: %w", err)
	}
	rec := audit.Record{UUID: jl.UUID, Time: t, Category: jl.Category, User: jl.User, Tenant: jl.Tenant,
		Account: jl.Account, Message: jl.Message, InstanceID: jl.InstanceID, FormatVersion: jl.FormatVersion}
	if jl.Application != nil {
		rec.Application = *jl.Application
	}
	switch jl.Source {
	case audit.SourceCF:
		rec.CF = &audit.CFFields{OrgID: deref(jl.OrgID), SpaceID: deref(jl.SpaceID), AppOrServiceID: deref(jl.AppOrServiceID), ALSServiceID: deref(jl.ALSServiceID)}
	case "", audit.SourceNeo:
		if jl.OrgID != nil || jl.SpaceID != nil || jl.AppOrServiceID != nil || jl.ALSServiceID != nil {
			return audit.Record{}, fmt.Errorf("a Neo record with Cloud Foundry fields")
		}
	default:
		return audit.Record{}, fmt.Errorf("source %q is not neo or cf", jl.Source)
	}
	return rec, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
