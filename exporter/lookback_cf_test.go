package exporter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/rs/zerolog"
)

// TestCursorSkipIsDeliveredByLookBack: under time-and-uuid cursor paging
// (the next page starts after the last record served), a record that
// becomes visible mid-listing with an earlier time than that record is
// skipped by the listing. It is a late record like any other: the window's
// re-listing 45 minutes after its export appends it as a delta, and in the
// end every record is delivered exactly once.
func TestCursorSkipIsDeliveredByLookBack(t *testing.T) {
	for _, shape := range []cfsim.HandleShape{cfsim.HandleRaw, cfsim.HandleBase64, cfsim.HandleEncoded} {
		t.Run(shape.String(), func(t *testing.T) {
			clock := (&fakeClock{}).set(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
			day := clock.Now()
			sim := cfsim.New(cfsim.Options{ClientID: "id", ClientSecret: "secret", PageSize: 5, Now: clock.Now,
				Readings: cfsim.Readings{Handle: shape, Cursor: true}})
			var recs []audit.Record
			for i := range 30 {
				recs = append(recs, audit.Record{UUID: fmt.Sprintf("r-%03d", i), Time: day.Add(5*time.Minute + time.Duration(i)*time.Minute),
					Account: "acct", Category: "audit.security-events", Message: "m", FormatVersion: "2.2", CF: &audit.CFFields{OrgID: "o"}})
			}
			sim.Add(recs...)
			late := audit.Record{UUID: "late-000", Time: day.Add(2 * time.Minute), Account: "acct", Category: "audit.security-events",
				Message: "m", FormatVersion: "2.2", CF: &audit.CFFields{OrgID: "o"}}
			// The late record becomes visible while the first listing of
			// 00:00-01:00 is between its first and second page.
			var once sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("handle") != "" {
					once.Do(func() { sim.Add(late) })
				}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			src, err := cfaudit.New(cfaudit.Config{Account: "acct", Now: clock.Now, InitialBackoff: time.Millisecond,
				Key: cfaudit.ServiceKey{URL: srv.URL, UAA: cfaudit.UAA{URL: srv.URL, ClientID: "id", ClientSecret: "secret"}}}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			e := newBareLookBackEnv(t)
			e.clock, e.src = clock, src

			clock.Add(75 * time.Minute) // 01:15: 00:00-01:00 is due
			e.run(24 * time.Hour)
			if e.has(late.UUID) {
				t.Fatal("the first listing served the late record: the cursor skipped nothing, the test proves nothing")
			}
			if got, _ := e.delivered(); got != len(recs) {
				t.Fatalf("first export: %d records, want %d", got, len(recs))
			}
			for clock.Now().Before(day.Add(3 * time.Hour)) {
				clock.Add(15 * time.Minute)
				e.run(24 * time.Hour)
				e.delivered() // fails on a record delivered twice
			}
			if got, _ := e.delivered(); got != len(recs)+1 || !e.has(late.UUID) {
				t.Fatalf("%d records delivered (late record: %v), want %d", got, e.has(late.UUID), len(recs)+1)
			}
			if deltas := e.deltas(); deltas != 1 {
				t.Fatalf("%d deltas, want the one with the skipped record", deltas)
			}
		})
	}
}
