package sinks

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// JSONL is the JSON lines format: one object per record, UTF-8,
// '\n'-terminated, fields in schema order.
type JSONL struct {
	// Gzip compresses the stream.
	Gzip bool
}

var _ Format = JSONL{}

// Ext implements Format.
func (f JSONL) Ext() string {
	if f.Gzip {
		return "jsonl.gz"
	}
	return "jsonl"
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
	e := &jsonlEncoder{}
	if f.Gzip {
		e.gz = gzip.NewWriter(w)
		w = e.gz
	}
	e.w = w
	return e, nil
}

type jsonlEncoder struct {
	w   io.Writer
	gz  *gzip.Writer
	buf []byte
}

// TimeLayout is how record times are written: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

func (e *jsonlEncoder) Encode(r *audit.Record) error {
	b, err := AppendJSONLine(e.buf[:0], r)
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

// AppendJSONLine appends r as one JSON line, '\n' included.
func AppendJSONLine(b []byte, r *audit.Record) ([]byte, error) {
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
		b = append(b, `,"source":"cf"}`+"\n"...)
	} else {
		b = append(b, `,"source":"neo"}`+"\n"...)
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

// ReadJSONL reads a JSON lines export (gzip when gz) and calls fn for each
// record. Unknown fields and lines that are not one JSON object are errors.
func ReadJSONL(r io.Reader, gz bool, fn func(audit.Record) error) error {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
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
		var jl jsonLine
		if err := json.Unmarshal(line[:len(line)-1], &jl, json.RejectUnknownMembers(true)); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		t, err := time.Parse(TimeLayout, jl.Time)
		if err != nil {
			return fmt.Errorf("line %d: time: %w", n, err)
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
				return fmt.Errorf("line %d: Cloud Foundry fields on a Neo record", n)
			}
		default:
			return fmt.Errorf("line %d: source %q is not neo or cf", n, jl.Source)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
