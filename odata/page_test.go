package odata

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// documentedPage is SAP's documented sample response, reduced to valid JSON.
const documentedPage = `{
  "@odata.context": "$metadata#AuditLogRecords",
  "value": [
    {
      "Uuid": "3b8a8b-16247c70836-8",
      "Category": "audit.data-access",
      "User": "<user>",
      "Tenant": "<tenant>",
      "Account": "<account>",
      "Application": "<application>",
      "Time": "2018-03-21T09.00.40.572+0000",
      "Message": "Read data access message. \"%void\"The accessed data belongs to {\"type\":\"account\",\"role\":\"account\",\"id\":{\"id :\":\"auditlog\"}} by user null",
      "InstanceId": null,
      "FormatVersion": "2.2"
    },
    {
      "Uuid": "33a87d-1621e7debb2-1be",
      "Category": "audit.security-events",
      "User": "A on behalf of B",
      "Tenant": "<tenant>",
      "Account": "<account>",
      "Application": "<application>",
      "Time": "2018-03-21T09.00.40.782+0000",
      "Message": "line one\nline \u00fc \ud83d\ude00",
      "InstanceId": "i-42",
      "FormatVersion": "2.2",
      "FutureField": {"nested": [1, 2, {"x": null}]}
    }
  ],
  "@odata.nextLink": "http://localhost:8001/auditlog/v1/accounts/auditlog/AuditLogRecords?$top=5000&$skip=0&$skiptoken=1000"
}`

func decodeString(s string) (Page, error) {
	var p Page
	err := newPageDecoder().Decode(strings.NewReader(s), &p)
	return p, err
}

func TestDecodeDocumentedPage(t *testing.T) {
	p, err := decodeString(documentedPage)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 2 || p.HasCount {
		t.Fatalf("got %d records, hasCount %v", len(p.Records), p.HasCount)
	}
	r := p.Records[0]
	want := audit.Record{UUID: "3b8a8b-16247c70836-8", Category: "audit.data-access", User: "<user>", Tenant: "<tenant>", Account: "<account>", Application: "<application>",
		Time:          time.Date(2018, 3, 21, 9, 0, 40, 572e6, time.UTC),
		Message:       `Read data access message. "%void"The accessed data belongs to {"type":"account","role":"account","id":{"id :":"auditlog"}} by user null`,
		FormatVersion: "2.2"}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("record 0 =\n%+v\nwant\n%+v", r, want)
	}
	r = p.Records[1]
	if r.Message != "line one\nline ü 😀" || r.InstanceID == nil || *r.InstanceID != "i-42" || r.User != "A on behalf of B" {
		t.Errorf("record 1 = %+v", r)
	}
	if p.NextLink != "http://localhost:8001/auditlog/v1/accounts/auditlog/AuditLogRecords?$top=5000&$skip=0&$skiptoken=1000" {
		t.Errorf("nextLink = %q", p.NextLink)
	}
}

func TestDecodePage(t *testing.T) {
	rec := func(fields string) string {
		return `{"@odata.count":1,"value":[{` + fields + `}]}`
	}
	ok := `"Uuid":"u1","Time":"2018-03-21T09.00.40.572+0000"`
	tests := []struct {
		name  string
		body  string
		class errclass.Class // Unknown = success
		msg   string
	}{
		{"minimal", rec(ok), errclass.Unknown, ""},
		{"count and empty value", `{"@odata.count":0,"value":[]}`, errclass.Unknown, ""},
		{"null strings", rec(ok + `,"User":null,"Message":null`), errclass.Unknown, ""},
		{"rfc3339 time", rec(`"Uuid":"u1","Time":"2018-03-21T09:00:40Z"`), errclass.Unknown, ""},
		{"empty body", ``, errclass.Retryable, "unexpected EOF"},
		{"html", `<!DOCTYPE html><html></html>`, errclass.Retryable, "not a complete"},
		{"truncated", documentedPage[:len(documentedPage)/2], errclass.Retryable, "unexpected EOF"},
		{"trailing garbage", rec(ok) + `{}`, errclass.Retryable, "not a complete"},
		{"array at top", `[]`, errclass.Retryable, "expected a JSON object"},
		{"no value", `{"@odata.count":3}`, errclass.Permanent, "no \"value\""},
		{"value not array", `{"value":{}}`, errclass.Permanent, "not an array"},
		{"record not object", `{"value":[1]}`, errclass.Permanent, "not an object"},
		{"no uuid", rec(`"Time":"2018-03-21T09.00.40.572+0000"`), errclass.Permanent, "no Uuid"},
		{"no time", rec(`"Uuid":"u1"`), errclass.Permanent, `record "u1" has no Time`},
		{"bad time", rec(`"Uuid":"u1","Time":"21.03.2018 09:00"`), errclass.Permanent, `record "u1": cannot parse Time "21.03.2018 09:00"`},
		{"leap second", rec(`"Uuid":"u1","Time":"2016-12-31T23.59.60.250+0000"`), errclass.Unknown, ""},
		{"time not string", rec(`"Uuid":"u1","Time":1521622840572`), errclass.Permanent, "not a string"},
		{"user number", rec(ok + `,"User":5`), errclass.Permanent, "not a string"},
		{"count string", `{"@odata.count":"7","value":[]}`, errclass.Permanent, "not a number"},
		{"count negative", `{"@odata.count":-1,"value":[]}`, errclass.Permanent, "@odata.count"},
		{"count fraction", `{"@odata.count":1.5,"value":[]}`, errclass.Permanent, "@odata.count"},
		{"nextLink number", `{"value":[],"@odata.nextLink":3}`, errclass.Permanent, "not a string"},
		{"error object", `{"error":{"code":"500","message":"boom"}}`, errclass.Permanent, "500: boom"},
		{"invalid utf8", "{\"value\":[{\"Uuid\":\"u1\",\"Time\":\"2018-03-21T09:00:40Z\",\"Message\":\"\xff\"}]}", errclass.Permanent, `record "u1": field "Message" is not valid UTF-8`},
		{"invalid utf8 before the uuid", "{\"value\":[{\"User\":\"a\xc0\",\"Uuid\":\"u1\",\"Time\":\"2018-03-21T09:00:40Z\"}]}", errclass.Permanent, `record "u1": field "User" is not valid UTF-8`},
		{"lone surrogate", rec(ok + `,"Message":"cut \ud800"`), errclass.Permanent, `record "u1": field "Message" is not valid Unicode`},
		{"two invalid fields", "{\"value\":[{\"User\":\"a\xc0\",\"Uuid\":\"u1\",\"Time\":\"2018-03-21T09:00:40Z\",\"Message\":\"\\ud800\"}]}", errclass.Permanent, `record "u1": field "User" is not valid UTF-8`},
		{"reversed surrogates", rec(ok + `,"Message":"\udc00\ud800"`), errclass.Permanent, `field "Message" is not valid Unicode`},
		{"paired surrogates", rec(ok + `,"Message":"\ud83d\udcb0"`), errclass.Unknown, ""},
		{"duplicate member", rec(ok + `,"Message":"a","Message":"b"`), errclass.Permanent, `record "u1": field "Message" appears twice`},
		{"duplicate uuid member", rec(ok + `,"Uuid":"u2"`), errclass.Permanent, `field "Uuid" appears twice`},
		{"duplicate unknown member", rec(ok + `,"X":1,"X":2`), errclass.Unknown, ""},
		{"duplicate count", `{"@odata.count":1,"@odata.count":2,"value":[]}`, errclass.Permanent, "twice"},
		{"duplicate nextLink", `{"value":[],"@odata.nextLink":"a","@odata.nextLink":"b"}`, errclass.Permanent, "twice"},
		{"too many records", `{"value":[` + strings.Repeat(`{"Uuid":"u","Time":"2018-03-21T09:00:40Z"},`, MaxRecordsPerPage) + `{"Uuid":"u","Time":"2018-03-21T09:00:40Z"}]}`, errclass.Permanent, "more than 10000 records"},
		{"deep nesting", `{"value":[],"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, errclass.Retryable, "depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeString(tt.body)
			if tt.class == errclass.Unknown {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want a %v error containing %q, got success", tt.class, tt.msg)
			}
			if c := errclass.Classify(err); c != tt.class || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v error %q; want %v containing %q", c, err, tt.class, tt.msg)
			}
		})
	}
}

func TestDecodeTruncatedIsUnexpectedEOF(t *testing.T) {
	for i := 1; i < len(documentedPage)-1; i += 37 {
		_, err := decodeString(documentedPage[:i])
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d: %v; want io.ErrUnexpectedEOF", i, err)
		}
	}
}

func TestDecoderReuseOverwrites(t *testing.T) {
	d := newPageDecoder()
	var p Page
	if err := d.Decode(strings.NewReader(documentedPage), &p); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(strings.NewReader(`{"value":[]}`), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 0 || p.NextLink != "" {
		t.Fatalf("stale page state: %+v", p)
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add(documentedPage)
	f.Add(`{"@odata.count":1,"value":[{"Uuid":"u","Time":"2018-03-21T09:00:40Z","InstanceId":"x"}]}`)
	f.Add(`{"value":[{"Uuid":"\u0000","Time":"2018-03-21T09.00.40.000+0000"}],"@odata.nextLink":null}`)
	f.Add(`<html>`)
	f.Fuzz(func(t *testing.T, body string) {
		p, err := decodeString(body)
		if err != nil {
			if c := errclass.Classify(err); c != errclass.Retryable && c != errclass.Permanent {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Everything accepted is valid JSON with records that have a Uuid and a UTC Time.
		if !stdjson.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		for _, r := range p.Records {
			if r.UUID == "" || r.Time.Location() != time.UTC {
				t.Fatalf("bad record %+v", r)
			}
		}
	})
}

// realisticPage renders n records of about 550 bytes each, as the API would.
func realisticPage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":"$metadata#AuditLogRecords","@odata.count":123456,"value":[`)
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		inst := "null"
		if i%5 == 0 {
			inst = `"a1b2c3d4e5f6"`
		}
		fmt.Fprintf(&b, `{"Uuid":"3b8a8b-16247c70836-%x","Category":"audit.data-access","User":"P000123 on behalf of S0012345678","Tenant":"a1b2c3d4-0000-4000-8000-000000000001","Account":"abc123xyz","Application":"travel-expenses","Time":"%s","Message":"Read data access message. \"%%void\"The accessed data belongs to {\"type\":\"account\",\"role\":\"account\",\"id\":{\"id :\":\"auditlog\"}} and  read  from object with name \"Employee %d\" and identifier {\"type\":\"Legacy.Object\",\"id\":{\"key\":\"Auditlog Retrieval API\"}} by user null","InstanceId":%s,"FormatVersion":"2.2"}`,
			i, base.Add(time.Duration(i)*time.Second).Format("2006-01-02T15.04.05.000-0700"), i, inst)
	}
	b.WriteString(`],"@odata.nextLink":"http://localhost:8001/auditlog/v1/accounts/abc123xyz/AuditLogRecords?$skiptoken=1000"}`)
	return b.Bytes()
}

// wirePage is what plain encoding/json would decode a page into.
type wirePage struct {
	Count    int64  `json:"@odata.count"`
	NextLink string `json:"@odata.nextLink"`
	Value    []struct {
		Uuid, Category, User, Tenant, Account, Application, Time, Message string
		InstanceId                                                        *string
		FormatVersion                                                     string
	} `json:"value"`
}

// BenchmarkDecodePage decodes and normalizes (time parsing included) one
// 1000-record page; BenchmarkDecodePageStdlib is the baseline: plain
// encoding/json into a struct, with no time parsing.
func BenchmarkDecodePage(b *testing.B) {
	body := realisticPage(1000)
	d := newPageDecoder()
	var p Page
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(bytes.NewReader(body), &p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodePageSqueezed is BenchmarkDecodePage as the client reads
// a page: whitespace squeezed first (source.SqueezeWhitespace).
func BenchmarkDecodePageSqueezed(b *testing.B) {
	body := realisticPage(1000)
	d := newPageDecoder()
	var p Page
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(source.SqueezeWhitespace(bytes.NewReader(body)), &p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecodePageStdlib(b *testing.B) {
	body := realisticPage(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var p wirePage
		if err := stdjson.NewDecoder(bytes.NewReader(body)).Decode(&p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}
