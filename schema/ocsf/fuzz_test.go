package ocsf_test

import (
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
)

// Any message maps to an event that reads back to its record.
func FuzzMap(f *testing.F) {
	f.Add("audit.security-events", "alice", `{"data":"logon","ip":"10.0.0.1","success":true}`, true)
	f.Add("audit.configuration", "", `{"object":{"type":"t","id":{"a":1}},"attributes":[{"name":"a","old":"1","new":"2"}]}`, true)
	f.Add("audit.data-access.x", "P1", `Read data access message. "%void"`, false)
	f.Add("audit.data-modification", "S1", `{"attributes":[{"name":"a","new":null}],"success":"no"}`, false)
	f.Add("", "", `{"ip":"::ffff:1.2.3.4%eth0"}`, true)
	f.Fuzz(func(t *testing.T, category, user, message string, isCF bool) {
		r := audit.Record{UUID: "u", Time: at, Category: category, User: user, Account: "a", Message: message}
		if isCF {
			r.CF = &audit.CFFields{AppOrServiceID: "app"}
		}
		if !utf8.ValidString(category) || !utf8.ValidString(user) || !utf8.ValidString(message) {
			// The sources decode JSON, so records hold valid UTF-8; one
			// that does not is refused, never written as invalid JSON.
			if _, err := ocsf.Map(&r); err == nil {
				t.Fatal("a record with invalid UTF-8 mapped without an error")
			}
			return
		}
		e, err := ocsf.Map(&r)
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, e)
		sameAsMarshal(t, &e)
		line, err := ocsf.Schema.AppendJSON(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ocsf.Schema.ParseJSON(line[:len(line)-1])
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("read back %+v, %v; want %+v", back, err, r)
		}
	})
}

// Reading a line back never panics, whatever the line.
func FuzzParseJSON(f *testing.F) {
	r := audit.Record{UUID: "u", Time: at, Category: "audit.configuration", Account: "a", Message: "m"}
	line, _ := ocsf.Schema.AppendJSON(nil, &r)
	f.Add(line[:len(line)-1])
	f.Add([]byte(`{"raw_data":"{}","metadata":{"uid":""}}`))
	f.Add([]byte(`{"unknown":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := ocsf.Schema.ParseJSON(line)
		if err != nil {
			return
		}
		// What reads back is a record whose own event agrees with it.
		e, err := ocsf.Map(&rec)
		if err != nil {
			return // not valid UTF-8 in a string: the record schema refuses it too
		}
		if e.Metadata.UID != rec.UUID || e.Time != rec.Time.UnixMilli() {
			t.Fatalf("event %q %d, record %q %v", e.Metadata.UID, e.Time, rec.UUID, rec.Time)
		}
	})
}
