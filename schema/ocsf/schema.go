package ocsf

import (
	"fmt"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/go-json-experiment/json"
)

// Schema writes OCSF events.
var Schema schema.Schema = ocsfSchema{}

type ocsfSchema struct{}

// rowBytes is about what an event's row holds beyond its record's text
// (the text is held twice: mapped and in raw_data).
const rowBytes = 512

var parquetRows = schema.ParquetOf(Map, Record,
	func(r *audit.Record) int { return 2*r.TextSize() + rowBytes }, func(e *Event) int64 { return e.Time },
	"raw_data", "message", "metadata.uid", "unmapped.sap_instance_id", "unmapped.sap_object", "unmapped.sap_data_subject",
	"unmapped.sap_attributes", "unmapped.sap_ip", "unmapped.sap_raw_data", "src_endpoint.ip", "table.name", "table.uid")

func (ocsfSchema) Name() string            { return "ocsf" }
func (ocsfSchema) Tag() string             { return "ocsf" }
func (ocsfSchema) Parquet() schema.Parquet { return parquetRows }

func (ocsfSchema) AppendJSON(b []byte, r *audit.Record) ([]byte, error) {
	e, err := Map(r)
	if err != nil {
		return nil, err
	}
	mark := len(b)
	if b, err = e.AppendJSON(b); err != nil {
		return b[:mark], fmt.Errorf("encode record %s as OCSF: %w", r.UUID, err)
	}
	return append(b, '\n'), nil
}

func (ocsfSchema) ParseJSON(line []byte) (audit.Record, error) {
	var e Event
	if err := json.Unmarshal(line, &e, json.RejectUnknownMembers(true)); err != nil {
		return audit.Record{}, err
	}
	return Record(&e)
}

// Record reads the SAP record back from an event: from raw_data (or, for
// a record too long for it, from unmapped), which must agree with the
// event's metadata.uid and time.
func Record(e *Event) (audit.Record, error) {
	raw, field := e.RawData, "raw_data"
	if big := e.Unmapped.SAPRawData; big != "" {
		if raw != "" {
			return audit.Record{}, fmt.Errorf("both raw_data and unmapped.sap_raw_data hold a record")
		}
		raw, field = big, "unmapped.sap_raw_data"
	}
	r, err := sap.ParseJSONLine([]byte(raw))
	if err != nil {
		return audit.Record{}, fmt.Errorf("%s: %w", field, err)
	}
	if cut(r.UUID, MaxString) != e.Metadata.UID {
		return audit.Record{}, fmt.Errorf("raw_data holds record %q, metadata.uid says %q", short(r.UUID), short(e.Metadata.UID))
	}
	if r.Time.UnixMilli() != e.Time {
		return audit.Record{}, fmt.Errorf("raw_data of %q has time %d, the event %d", short(r.UUID), r.Time.UnixMilli(), e.Time)
	}
	return r, nil
}

// short keeps a value read from an object short enough for a message.
func short(s string) string {
	if len(s) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}
