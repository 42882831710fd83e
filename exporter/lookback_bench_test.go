package exporter_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// BenchmarkLookBack measures, in simulated time, a steady day of CronJob
// runs every 15 minutes (1h windows, lag 15m) against an API whose records
// become visible late: 85% within 5 minutes, 14% within 5-30 minutes, 1%
// within 30 minutes to 24 hours. It reports the API requests (tokens
// included) of the second day with the look-back on, as a ratio to the
// same day with it off, and the share of late records delivered within an
// hour of becoming visible. "counted" is the Neo API; "uncounted" an API
// that sends no count (the Cloud Foundry code path).
func BenchmarkLookBack(b *testing.B) {
	for _, tc := range []struct {
		name string
		r    neosim.Readings
	}{{"counted", neosim.Readings{}}, {"uncounted", neosim.Readings{Count: neosim.CountNone}}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				off, _, _ := lookBackDay(b, tc.r, 0)
				on, late, inHour := lookBackDay(b, tc.r, 24*time.Hour)
				b.ReportMetric(float64(on)/float64(off), "requests-on/off")
				b.ReportMetric(float64(off), "requests-off/day")
				b.ReportMetric(float64(inHour)/float64(late), "late-within-1h")
				b.ReportMetric(float64(late), "late-records/day")
			}
		})
	}
}

// lookBackDay runs two simulated days and returns the API requests of the
// second, its late records (visible after their window's export) and how
// many of them were delivered within an hour of becoming visible.
func lookBackDay(tb testing.TB, r neosim.Readings, lookBack time.Duration) (requests, late, inHour int) {
	e := newLookBackEnv(tb, r)
	rng := rand.New(rand.NewPCG(7, 9))
	start := e.clock.Now()
	visible := map[string]time.Time{}
	var recs []audit.Record
	for i := range 2 * 24 * 1000 {
		at := start.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
		var d time.Duration
		switch p := rng.Float64(); {
		case p < 0.85:
			d = time.Duration(rng.Int64N(int64(5 * time.Minute)))
		case p < 0.99:
			d = 5*time.Minute + time.Duration(rng.Int64N(int64(25*time.Minute)))
		default:
			d = 30*time.Minute + time.Duration(rng.Int64N(int64(23*time.Hour+30*time.Minute)))
		}
		rec := audit.Record{UUID: fmt.Sprintf("b-%06d", i), Time: at, Account: "acct", Category: "audit.security-events", Message: "m", FormatVersion: "2.2"}
		recs = append(recs, rec)
		visible[rec.UUID] = at.Add(d)
	}
	e.sim.Add(func(r audit.Record) time.Time { return visible[r.UUID] }, recs...)
	seen := map[string]time.Time{}
	var before int
	for e.clock.Now().Before(start.Add(48 * time.Hour)) {
		e.clock.Add(15 * time.Minute)
		if e.clock.Now().Equal(start.Add(24 * time.Hour)) {
			c := e.sim.Counters()
			before = c.APIRequests + c.TokenRequests
		}
		e.run(lookBack)
		e.collect(seen)
	}
	c := e.sim.Counters()
	requests = c.APIRequests + c.TokenRequests - before
	for _, rec := range recs {
		w := rec.Time.Truncate(time.Hour)
		exportAt := w.Add(time.Hour + 15*time.Minute)
		v := visible[rec.UUID]
		if !v.After(exportAt) || v.Before(start.Add(24*time.Hour)) || v.After(start.Add(47*time.Hour)) {
			continue // on time, or outside the measured day
		}
		late++
		if at, ok := seen[rec.UUID]; ok && at.Sub(v) <= time.Hour {
			inHour++
		}
	}
	return requests, late, inHour
}

// collect notes when each record first appears in an object: objects are
// never replaced, so each file is read once.
func (e *lookBackEnv) collect(seen map[string]time.Time) {
	files, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*.jsonl"))
	for _, f := range files {
		if e.read[f] {
			continue
		}
		e.read[f] = true
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := sinks.ReadJSONL(bytes.NewReader(b), false, func(r audit.Record) error {
			if _, ok := seen[r.UUID]; ok {
				e.t.Fatalf("record %s delivered twice", r.UUID)
			}
			seen[r.UUID] = e.clock.Now()
			return nil
		}); err != nil {
			e.t.Fatal(err)
		}
	}
}
