package exporter_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/rs/zerolog"
)

// lateModel is how records become visible: most within minutes, some
// 5-30 minutes late (what collectors report), a tail up to a day late.
type lateModel struct {
	perHour int           // records an hour
	tail    float64       // share of records 30 minutes to 24 hours late
	lag     time.Duration // export.lag (15m when 0)
}

// BenchmarkLookBack measures, in simulated time, a steady day of CronJob
// runs every 15 minutes (1h windows, lag 15m) against an API whose records
// become visible late: 85% within 5 minutes, the rest within 5-30 minutes
// but a tail (the share in the case's name) within 30 minutes to 24
// hours. It reports the API requests (tokens included) of the second day
// with the look-back on, as a ratio to the same day with it off, and the
// share of late records delivered within an hour of becoming visible.
// "counted" is the Neo API; "uncounted" an API that sends no count (the
// Cloud Foundry code path).
func BenchmarkLookBack(b *testing.B) {
	for _, tc := range []struct {
		name string
		r    neosim.Readings
		m    lateModel
	}{
		{"counted/1k-an-hour/tail-0.01%", neosim.Readings{}, lateModel{1000, 0.0001, 0}},
		{"counted/10k-an-hour/tail-0.01%", neosim.Readings{}, lateModel{10000, 0.0001, 0}},
		{"counted/1k-an-hour/tail-1%", neosim.Readings{}, lateModel{1000, 0.01, 0}},
		{"counted/1k-an-hour/tail-0.01%/lag-30m", neosim.Readings{}, lateModel{1000, 0.0001, 30 * time.Minute}},
		{"counted/10k-an-hour/tail-0.01%/lag-30m", neosim.Readings{}, lateModel{10000, 0.0001, 30 * time.Minute}},
		{"uncounted/1k-an-hour/tail-0.01%", neosim.Readings{Count: neosim.CountNone}, lateModel{1000, 0.0001, 0}},
		{"uncounted/10k-an-hour/tail-0.01%", neosim.Readings{Count: neosim.CountNone}, lateModel{10000, 0.0001, 0}},
		{"uncounted/1k-an-hour/tail-1%", neosim.Readings{Count: neosim.CountNone}, lateModel{1000, 0.01, 0}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				off := lookBackDay(b, tc.r, tc.m, 0)
				on := lookBackDay(b, tc.r, tc.m, 24*time.Hour)
				b.ReportMetric(float64(on.requests)/float64(off.requests), "requests-on/off")
				b.ReportMetric(float64(off.requests), "requests-off/day")
				b.ReportMetric(float64(on.pages-off.pages), "extra-pages/day")
				b.ReportMetric(float64(on.counts-off.counts), "extra-counts/day")
				b.ReportMetric(float64(on.inHour)/float64(on.late), "late-within-1h")
				b.ReportMetric(float64(on.late), "late-records/day")
			}
		})
	}
}

// dayResult is what lookBackDay measured on the second day.
type dayResult struct {
	requests, pages, counts int // API requests (tokens included), requests for records, count-only requests
	late, inHour            int // late records; those delivered within an hour of becoming visible
}

// lookBackDay runs two simulated days and measures the second: its API
// requests, its late records (visible after their window's export) and how
// many of them were delivered within an hour of becoming visible.
func lookBackDay(tb testing.TB, r neosim.Readings, m lateModel, lookBack time.Duration) dayResult {
	e := newSimLookBackEnv(tb, r)
	if m.lag > 0 {
		e.lag = m.lag
	}
	if os.Getenv("LOOKBACK_DEBUG") != "" {
		e.log = zerolog.New(os.Stderr).With().Timestamp().Logger()
		zerolog.TimestampFunc = e.clock.Now
		zerolog.SetGlobalLevel(zerolog.DebugLevel)
	}
	rng := rand.New(rand.NewPCG(7, 9))
	start := e.clock.Now()
	visible := map[string]time.Time{}
	var recs []audit.Record
	for i := range 2 * 24 * m.perHour {
		at := start.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
		var d time.Duration
		switch p := rng.Float64(); {
		case p < m.tail:
			d = 30*time.Minute + time.Duration(rng.Int64N(int64(23*time.Hour+30*time.Minute)))
		case p < m.tail+0.85:
			d = time.Duration(rng.Int64N(int64(5 * time.Minute)))
		default:
			d = 5*time.Minute + time.Duration(rng.Int64N(int64(25*time.Minute)))
		}
		rec := audit.Record{UUID: fmt.Sprintf("b-%07d", i), Time: at, Account: "acct", Category: "audit.security-events", Message: "m", FormatVersion: "2.2"}
		recs = append(recs, rec)
		visible[rec.UUID] = at.Add(d)
	}
	e.addVisibleAt(func(r audit.Record) time.Time { return visible[r.UUID] }, recs)
	seen := map[string]time.Time{}
	var before neosim.Counters
	for e.clock.Now().Before(start.Add(48 * time.Hour)) {
		e.clock.Add(15 * time.Minute)
		if e.clock.Now().Equal(start.Add(24 * time.Hour)) {
			before = e.sim.Counters()
		}
		e.run(lookBack)
		e.collect(seen)
	}
	c := e.sim.Counters()
	var res dayResult
	res.requests = c.APIRequests + c.TokenRequests - before.APIRequests - before.TokenRequests
	res.counts = c.Counts - before.Counts
	res.pages = c.APIRequests - res.counts - before.APIRequests
	for _, rec := range recs {
		w := rec.Time.Truncate(time.Hour)
		exportAt := w.Add(time.Hour + e.lag)
		v := visible[rec.UUID]
		if !v.After(exportAt) || v.Before(start.Add(24*time.Hour)) || v.After(start.Add(47*time.Hour)) {
			continue // on time, or outside the measured day
		}
		res.late++
		if at, ok := seen[rec.UUID]; ok && at.Sub(v) <= time.Hour {
			res.inHour++
		}
	}
	return res
}

// collect notes when each record first appears in an object: objects are
// never replaced, so each version created is read once.
func (e *lookBackEnv) collect(seen map[string]time.Time) {
	objects := dataObjects(e.dest, "acct")
	for _, o := range objects[e.read:] {
		if err := sinks.ReadJSONL(bytes.NewReader(o.Data), false, func(r audit.Record) error {
			if _, ok := seen[r.UUID]; ok {
				e.t.Fatalf("record %s delivered twice", r.UUID)
			}
			seen[r.UUID] = e.clock.Now()
			return nil
		}); err != nil {
			e.t.Fatal(err)
		}
	}
	e.read = len(objects)
}
