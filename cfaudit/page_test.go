package cfaudit

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

func TestParseHandle(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"", "", false},
		{"handle=QUJD", "QUJD", false},
		{"handle=QUJDRA==", "QUJDRA==", false}, // padding kept: splitting on '=' would cut it
		{"  handle=YWJj=  ", "YWJj=", false},
		{"Handle=x", "x", false},
		{"handle=a+b/c-d_e.f~g%3D", "a+b/c-d_e.f~g%3D", false},
		{"handle=", "", true},
		{"cursor=abc", "", true},
		{"abc", "", true},
		{"handle=a b", "", true},
		{"handle=\x00", "", true},
		{"handle=" + strings.Repeat("A", MaxHandleBytes+1), "", true},
	} {
		got, err := ParseHandle(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseHandle(%.40q) = %q, %v", tc.in, got, err)
		}
		if err != nil && errclass.Classify(err) != errclass.Permanent {
			t.Errorf("ParseHandle(%.40q): class %v, want permanent", tc.in, errclass.Classify(err))
		}
	}
}

func TestMessageText(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{`"plain text \"q\"\n"`, "plain text \"q\"\n", ""},
		{`"{\"k\":\"v\"}"`, `{"k":"v"}`, ""},
		{`{ "ip" : "1.2.3.4",  "data": {"a": [1, 2.50]} , "u":"\u00fc"}`, `{"ip":"1.2.3.4","data":{"a":[1,2.50]},"u":"\u00fc"}`, ""}, // order and escapes as received
		{`null`, "", ""},
		{``, "", ""},
		{`42`, "", "not a string or an object"},
		{`[1]`, "", "not a string or an object"},
		{`"\ud800"`, "", "not valid Unicode"},
	} {
		got, err := messageText([]byte(tc.in))
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("messageText(%s) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestDecodePage(t *testing.T) {
	good := `[{"message_uuid":"u1","time":"2018-10-04T08:12:00.239Z","tenant":"t","org_id":"o","space_id":"s","app_or_service_id":"a","als_service_id":"als","user":"me","category":"audit.security-events","format_version":"","message":"{\"k\":1}"},
	 {"message_uuid":"u2","time":"2018-10-04T08:12:01Z","category":"audit.configuration","message":{"k" : 2},"extra":"ignored","user":null}]`
	recs, err := decodePage(strings.NewReader(good), "my-sub", nil)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	want := audit.Record{UUID: "u1", Time: time.Date(2018, 10, 4, 8, 12, 0, 239e6, time.UTC), Category: "audit.security-events", User: "me", Tenant: "t", Account: "my-sub",
		Message: `{"k":1}`, CF: &audit.CFFields{OrgID: "o", SpaceID: "s", AppOrServiceID: "a", ALSServiceID: "als"}}
	if !recs[0].Equal(&want) {
		t.Fatalf("record 0: %+v", recs[0])
	}
	if recs[1].Message != `{"k":2}` || recs[1].User != "" || recs[1].CF == nil || recs[1].Source() != audit.SourceCF {
		t.Fatalf("record 1: %+v", recs[1])
	}
	if recs, err := decodePage(strings.NewReader(" [ ] "), "a", nil); err != nil || len(recs) != 0 {
		t.Fatalf("empty page: %d, %v", len(recs), err)
	}
	for _, tc := range []struct {
		name, body string
		class      errclass.Class
		says       string
	}{
		{"cut short", good[:40], errclass.Retryable, "not a complete JSON array"},
		{"HTML from a proxy", "<html><body>Gateway</body></html>", errclass.Retryable, "not a complete JSON array"},
		{"two bodies", "[][]", errclass.Retryable, "data after"},
		{"an object", `{"error":"x"}`, errclass.Permanent, "not the array"},
		{"no uuid", `[{"time":"2018-10-04T08:12:00Z"}]`, errclass.Permanent, "records[0] has no message_uuid"},
		{"no time", `[{"message_uuid":"u9"}]`, errclass.Permanent, `record "u9" has no time`},
		{"bad time", `[{"message_uuid":"u9","time":"yesterday"}]`, errclass.Permanent, `cannot parse time "yesterday"`},
		{"time without zone", `[{"message_uuid":"u9","time":"2018-10-04T08:12:00"}]`, errclass.Permanent, "cannot parse time"},
		{"number for user", `[{"message_uuid":"u9","time":"2018-10-04T08:12:00Z","user":5}]`, errclass.Permanent, `record "u9": field user`},
		{"duplicate field", `[{"message_uuid":"u9","time":"2018-10-04T08:12:00Z","user":"a","user":"b"}]`, errclass.Permanent, `record "u9"`},
		{"invalid UTF-8", "[{\"message_uuid\":\"u9\",\"time\":\"2018-10-04T08:12:00Z\",\"message\":\"\xff\"}]", errclass.Permanent, `record "u9"`},
		{"array message", `[{"message_uuid":"u9","time":"2018-10-04T08:12:00Z","message":[1]}]`, errclass.Permanent, "not a string or an object"},
		{"not an object", `[1]`, errclass.Permanent, "records[0] is a number"},
		{"too many", "[" + strings.Repeat(`{"message_uuid":"x","time":"2018-10-04T08:12:00Z"},`, MaxRecordsPerPage) + `{"message_uuid":"x","time":"2018-10-04T08:12:00Z"}]`, errclass.Permanent, "more than 5000 records"},
	} {
		_, err := decodePage(strings.NewReader(tc.body), "a", nil)
		if err == nil || errclass.Classify(err) != tc.class || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v (class %v), want %v naming %q", tc.name, err, errclass.Classify(err), tc.class, tc.says)
		}
		if tc.class == errclass.Retryable && !errors.Is(err, errBadBody) {
			t.Errorf("%s: not errBadBody", tc.name)
		}
	}
}

func FuzzDecodeCFPage(f *testing.F) {
	f.Add([]byte(`[{"message_uuid":"u1","time":"2018-10-04T08:12:00.239Z","message":{"a":1}}]`))
	f.Add([]byte(`[{"message_uuid":"u1","time":"2018-10-04T08:12:00.239Z","message":"x"},{"message_uuid":"u2","time":"2018-10-04T08:12:00Z"}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodePage(strings.NewReader(string(b)), "acct", nil)
		if err != nil {
			if c := errclass.Classify(err); c != errclass.Retryable && c != errclass.Permanent {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(recs) > MaxRecordsPerPage {
			t.Fatalf("%d records", len(recs))
		}
		for _, r := range recs {
			// Whatever the page, a record accepted can be exported
			// faithfully: an id, a UTC time, valid text, the CF shape.
			if r.UUID == "" || r.Time.Location() != time.UTC || r.CF == nil || r.Account != "acct" || !validText(r) {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

func FuzzParseHandle(f *testing.F) {
	for _, s := range []string{"handle=QUJDRA==", "handle=", "x", " handle = a=b= "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHandle(s)
		if err != nil {
			return
		}
		if len(h) > MaxHandleBytes || strings.ContainsAny(h, " \t\r\n") {
			t.Fatalf("accepted handle %q", h)
		}
		if h != "" && !strings.Contains(s, h) {
			t.Fatalf("handle %q is not passed through unchanged from %q", h, s)
		}
	})
}

func validText(r audit.Record) bool {
	for _, s := range []string{r.UUID, r.Category, r.User, r.Tenant, r.Message, r.FormatVersion, r.CF.OrgID, r.CF.SpaceID, r.CF.AppOrServiceID, r.CF.ALSServiceID} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// cfPage is a 500-record page as the API sends it: half the messages as
// JSON strings, half as objects.
func cfPage() []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range PageSize {
		if i > 0 {
			b.WriteByte(',')
		}
		msg := fmt.Sprintf(`"{\"object\":{\"type\":\"app\",\"id\":{\"id\":\"%d\"}},\"attributes\":[{\"name\":\"k\",\"old\":\"a\",\"new\":\"b\"}],\"success\":true}"`, i)
		if i%2 == 1 {
			msg = fmt.Sprintf(`{"object": {"type": "app", "id": {"id": "%d"}}, "attributes": [{"name": "k", "old": "a", "new": "b"}], "success": true}`, i)
		}
		fmt.Fprintf(&b, `{"message_uuid":"5d0b8f1c-%08d-4b6e-9f3c-2a1b3c4d5e6f","time":"2026-11-24T10:%02d:%02d.%03dZ","tenant":"a1b2c3d4-tenant","org_id":"org-guid-1","space_id":"space-guid-2","app_or_service_id":"app-guid-%d","als_service_id":"als-1","user":"alice@example.com","category":"audit.security-events","format_version":"","message":%s}`,
			i, i/60%60, i%60, i%1000, i%7, msg)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkDecodeCFPage decodes and normalizes a page (time parsing, the
// message forms, the CF fields); BenchmarkDecodeCFPageStdlib is plain
// encoding/json of the same bytes into a struct slice, nothing parsed.
func BenchmarkDecodeCFPage(b *testing.B) {
	body := cfPage()
	var recs []audit.Record
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if recs, err = decodePage(bytes.NewReader(body), "acct", recs); err != nil || len(recs) != PageSize {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*PageSize)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeCFPageSqueezed is BenchmarkDecodeCFPage as the client
// reads a page: whitespace squeezed first (source.SqueezeWhitespace).
func BenchmarkDecodeCFPageSqueezed(b *testing.B) {
	body := cfPage()
	var recs []audit.Record
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if recs, err = decodePage(source.SqueezeWhitespace(bytes.NewReader(body)), "acct", recs); err != nil || len(recs) != PageSize {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*PageSize)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecodeCFPageStdlib(b *testing.B) {
	body := cfPage()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var page []struct {
			MessageUUID    string             `json:"message_uuid"`
			Time           string             `json:"time"`
			Tenant         string             `json:"tenant"`
			OrgID          string             `json:"org_id"`
			SpaceID        string             `json:"space_id"`
			AppOrServiceID string             `json:"app_or_service_id"`
			ALSServiceID   string             `json:"als_service_id"`
			User           string             `json:"user"`
			Category       string             `json:"category"`
			FormatVersion  string             `json:"format_version"`
			Message        stdjson.RawMessage `json:"message"`
		}
		if err := stdjson.NewDecoder(bytes.NewReader(body)).Decode(&page); err != nil || len(page) != PageSize {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*PageSize)/b.Elapsed().Seconds(), "records/s")
}
