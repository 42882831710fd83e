package audit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func TestBinaryRoundTrip(t *testing.T) {
	id := "i-1"
	recs := []Record{
		{UUID: "3b8a8b-16247c70836-8", Time: time.Date(2018, 3, 21, 9, 0, 40, 572e6, time.UTC), Category: "audit.data-access", User: "A on behalf of B",
			Tenant: "t", Account: "a", Application: "app", Message: "line\n\"quoted\" ü 😀", InstanceID: &id, FormatVersion: "2.2"},
		{UUID: "u2", Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)},
		{UUID: "cf-1", Time: time.Date(2026, 11, 24, 10, 0, 0, 239e6, time.UTC), Category: "audit.security-events", Message: `{"k":"v"}`,
			CF: &CFFields{OrgID: "org", SpaceID: "", AppOrServiceID: "app-guid", ALSServiceID: "als"}},
		{},
	}
	var b []byte
	for i := range recs {
		b = AppendBinary(b, &recs[i])
	}
	br := bufio.NewReader(bytes.NewReader(b))
	for i := range recs {
		var r Record
		if err := ReadBinary(br, &r); err != nil || !r.Equal(&recs[i]) {
			t.Fatalf("record %d: %+v, %v", i, r, err)
		}
	}
	var r Record
	if err := ReadBinary(br, &r); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	for cut := 1; cut < len(b)-1; cut += 7 {
		br := bufio.NewReader(bytes.NewReader(b[:cut]))
		var err error
		for err == nil {
			err = ReadBinary(br, &r)
		}
		if err == io.EOF {
			continue // cut at a record boundary
		}
		if !errors.Is(err, ErrBadSpool) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}

func FuzzReadBinary(f *testing.F) {
	f.Add(AppendBinary(nil, &Record{UUID: "u", Message: "m"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		var r Record
		for i := 0; i < 100; i++ {
			if err := ReadBinary(br, &r); err != nil {
				return
			}
		}
	})
}
