package sourcetest

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// Counting is what a Memory's API counts for a query.
type Counting int

// The countings.
const (
	// CountDistinct counts distinct Uuids (the documented reading).
	CountDistinct Counting = iota
	// CountRows counts rows: a record stored twice counts twice.
	CountRows
	// CountNone sends no count (Count returns -1, as the Cloud Foundry
	// API).
	CountNone
)

// String names the counting as a subtest name.
func (c Counting) String() string {
	switch c {
	case CountRows:
		return "count=rows"
	case CountNone:
		return "count=none"
	}
	return "count=distinct"
}

// MemoryOptions shape a Memory source.
type MemoryOptions struct {
	// Counting is what Count and a listing's count say; CountDistinct by
	// default.
	Counting Counting
	// Padding is how far the query for a window reaches beyond it on each
	// side: records there are counted, never emitted.
	Padding time.Duration
	// PageSize is the rows one page holds, for Stats.Pages and the
	// counters; 500 by default.
	PageSize int
	// Now is the clock records become visible by (AddVisibleAt);
	// time.Now by default.
	Now func() time.Time
	// Order is the order rows are served in; nil: by time, then in the
	// order they were added.
	Order func(a, b *audit.Record) int
	// Retention is what Retention answers; 201 days by default.
	Retention time.Duration
	// Secret is a credential Scrub removes from text.
	Secret string
	// Refuse, when set, fails every call (Token, Fetch, Count, Probe) with
	// it, as a revoked client.
	Refuse error
}

// Fault is what one scripted Fetch does wrong.
type Fault struct {
	// Err, when set, fails the fetch after After records were emitted
	// (a connection dropped mid-listing, a 5xx after retries).
	Err   error
	After int
	// Withhold leaves out the listing's last Withhold rows while its count
	// still holds them: ErrIncomplete where the API counts, records
	// silently missing where it does not.
	Withhold int
	// Serve, when set, rewrites the first listing's rows as served
	// (reorders them, repeats some, drops some); the count is unchanged.
	Serve func(rows []audit.Record) []audit.Record
}

// MemoryCounters count what a Memory was asked.
type MemoryCounters struct {
	Tokens, Fetches, Counts, Probes int
	// Pages are the pages listings served (a second listing's too);
	// Requests is Pages plus Counts plus Probes: what an API would have
	// served, tokens aside.
	Pages, Requests int
	// MaxConcurrent is the most fetches in flight at once.
	MaxConcurrent int
}

// Memory is a source whose API is a map in memory, scriptable for tests:
// records per account, visible at once, from a time on or from a call on;
// counted as the API would (distinct, rows, or not at all); faults
// scripted per fetch. It implements the whole source.Source contract (the
// suite of this package holds it to that), with no HTTP and no goroutine.
// It is safe for concurrent use.
type Memory struct {
	opts MemoryOptions
	seed maphash.Seed

	mu          sync.Mutex
	rows        map[string]*memRows // by account
	added       int
	calls       int // Fetch and Count calls so far
	faults      map[int]Fault
	countFaults map[int]error
	inFlight    int
	c           MemoryCounters
}

// memRows are one account's rows, sorted by time (then the order added)
// when sorted is set.
type memRows struct {
	rows   []memRow
	sorted bool
}

type memRow struct {
	rec       audit.Record
	seq       int       // order added
	visibleAt time.Time // zero: at once
	fromCall  int       // 0: at once
}

var _ source.Source = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory(o MemoryOptions) *Memory {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retention <= 0 {
		o.Retention = 201 * 24 * time.Hour
	}
	return &Memory{opts: o, seed: maphash.MakeSeed(), rows: map[string]*memRows{}, faults: map[int]Fault{}, countFaults: map[int]error{}}
}

func (m *Memory) add(visibleAt time.Time, fromCall int, recs []audit.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.added++
		r.Time = r.Time.UTC()
		a := m.rows[r.Account]
		if a == nil {
			a = &memRows{}
			m.rows[r.Account] = a
		}
		a.rows = append(a.rows, memRow{rec: r, seq: m.added, visibleAt: visibleAt, fromCall: fromCall})
		a.sorted = false
	}
}

// Add stores recs under their accounts, visible at once. A Uuid added
// twice is stored twice (two rows), as the service stores some records.
func (m *Memory) Add(recs ...audit.Record) { m.add(time.Time{}, 0, recs) }

// AddVisibleAt stores recs, visible from at on by the clock (late records).
func (m *Memory) AddVisibleAt(at time.Time, recs ...audit.Record) { m.add(at, 0, recs) }

// AddVisibleFrom stores recs, visible from the call-th call (Fetch or
// Count, counted from 1 over the Memory's life) on.
func (m *Memory) AddVisibleFrom(call int, recs ...audit.Record) { m.add(time.Time{}, call, recs) }

// FailFetch scripts the n-th Fetch (counted from 1 over the Memory's life).
func (m *Memory) FailFetch(n int, f Fault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[n] = f
}

// FailCount makes the n-th Count (counted from 1) fail with err.
func (m *Memory) FailCount(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.countFaults[n] = err
}

// Calls is how many Fetch and Count calls were made so far.
func (m *Memory) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// Counters returns what the Memory was asked so far.
func (m *Memory) Counters() MemoryCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.c
	c.Requests = c.Pages + c.Counts + c.Probes
	return c
}

// Records returns account's records in [from, to) visible now (the first
// copy of each Uuid), in time order: what an export of that range must
// deliver.
func (m *Memory) Records(account string, from, to time.Time) []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	seen := map[string]bool{}
	var out []audit.Record
	for _, r := range m.between(account, from, to) {
		if m.visible(r, now, m.calls) && !seen[r.rec.UUID] {
			seen[r.rec.UUID] = true
			out = append(out, r.rec)
		}
	}
	return out
}

func (m *Memory) visible(r memRow, now time.Time, call int) bool {
	return !now.Before(r.visibleAt) && (r.fromCall == 0 || call >= r.fromCall)
}

// between is account's rows with a time in [from, to), in time order
// (then the order added). m.mu is held.
func (m *Memory) between(account string, from, to time.Time) []memRow {
	a := m.rows[account]
	if a == nil {
		return nil
	}
	if !a.sorted {
		slices.SortStableFunc(a.rows, func(x, y memRow) int {
			return cmp.Or(x.rec.Time.Compare(y.rec.Time), cmp.Compare(x.seq, y.seq))
		})
		a.sorted = true
	}
	// The first row at or after a time (an equal time sorts as after).
	atOrAfter := func(t time.Time) int {
		i, _ := slices.BinarySearchFunc(a.rows, t, func(r memRow, t time.Time) int { return cmp.Or(r.rec.Time.Compare(t), 1) })
		return i
	}
	lo, hi := atOrAfter(from), atOrAfter(to)
	return a.rows[lo:hi]
}

// listing is the rows of w's padded query visible at call, in the order
// served, and what the API counts of them. m.mu is held.
func (m *Memory) listing(w audit.Window, call int) ([]audit.Record, int64) {
	now := m.opts.Now()
	var out []audit.Record
	distinct := map[string]bool{}
	for _, r := range m.between(w.Account, w.Start.Add(-m.opts.Padding), w.End.Add(m.opts.Padding)) {
		if m.visible(r, now, call) {
			out = append(out, r.rec)
			distinct[r.rec.UUID] = true
		}
	}
	if m.opts.Order != nil {
		slices.SortStableFunc(out, func(a, b audit.Record) int { return m.opts.Order(&a, &b) })
	}
	switch m.opts.Counting {
	case CountRows:
		return out, int64(len(out))
	case CountNone:
		return out, -1
	}
	return out, int64(len(distinct))
}

// Token implements source.Source.
func (m *Memory) Token(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c.Tokens++
	return m.opts.Refuse
}

// Count implements source.Source: the API's count for w's padded query,
// -1 under CountNone.
func (m *Memory) Count(ctx context.Context, w audit.Window) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opts.Refuse != nil {
		return 0, m.opts.Refuse
	}
	m.calls++
	m.c.Counts++
	if err := m.countFaults[m.c.Counts]; err != nil {
		return 0, fmt.Errorf("count window %s: %w", w, err)
	}
	_, n := m.listing(w, m.calls)
	return n, nil
}

// Retention implements source.Source.
func (m *Memory) Retention(context.Context) (time.Duration, string) {
	return m.opts.Retention, "memory"
}

// Probe implements source.Source: the distinct records visible now, of
// every account the Memory holds.
func (m *Memory) Probe(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opts.Refuse != nil {
		return 0, m.opts.Refuse
	}
	m.c.Probes++
	now := m.opts.Now()
	seen := map[string]bool{}
	for _, a := range m.rows {
		for _, r := range a.rows {
			if m.visible(r, now, m.calls) {
				seen[r.rec.Account+"\x00"+r.rec.UUID] = true
			}
		}
	}
	return int64(len(seen)), nil
}

// Scrub implements source.Source: it removes MemoryOptions.Secret.
func (m *Memory) Scrub(s string) string {
	if m.opts.Secret == "" {
		return s
	}
	return strings.ReplaceAll(s, m.opts.Secret, "***")
}

// Fetch implements source.Source. It judges a listing's completeness as
// the Neo client does: distinct records covering the count are complete;
// fewer rows than counted is ErrIncomplete; rows covering the count with
// fewer distinct Uuids are complete only if a second listing serves the
// same distinct set; without a count the listing is taken as it is.
func (m *Memory) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	st := source.NewStats()
	if err := ctx.Err(); err != nil {
		return st, err
	}
	m.mu.Lock()
	if m.opts.Refuse != nil {
		m.mu.Unlock()
		return st, m.opts.Refuse
	}
	m.calls++
	m.c.Fetches++
	call, fault := m.calls, m.faults[m.c.Fetches]
	m.inFlight++
	m.c.MaxConcurrent = max(m.c.MaxConcurrent, m.inFlight)
	rows, count := m.listing(w, call)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inFlight--
		m.mu.Unlock()
	}()

	if fault.Serve != nil {
		rows = fault.Serve(slices.Clone(rows))
	}
	if fault.Withhold > 0 {
		rows = rows[:len(rows)-min(fault.Withhold, len(rows))]
	}
	first, err := m.list(ctx, w, rows, count, &st, emit, fault)
	st.Rows, st.Distinct, st.ServerCount = first.Rows, first.Distinct, count
	if err != nil {
		return st, err
	}
	switch {
	case count < 0:
		st.Completeness = source.CompletenessUncounted
	case first.Distinct >= count:
		st.Completeness = source.CompletenessCounted
	case first.Rows < count:
		return st, errclass.Mark(errclass.Retryable, fmt.Errorf("window %s: the server counted %d records for the query but served %d rows (%d distinct): %w",
			w, count, first.Rows, first.Distinct, source.ErrIncomplete))
	default:
		m.mu.Lock()
		again, count2 := m.listing(w, call)
		m.mu.Unlock()
		second, err := m.list(ctx, w, again, count2, &st, nil, Fault{})
		if err != nil {
			return st, fmt.Errorf("second listing of window %s: %w", w, err)
		}
		if count2 != count || !second.SameSet(first) {
			return st, errclass.Mark(errclass.Retryable, fmt.Errorf("window %s: the server counted %d records and served %d rows but only %d distinct, and a second listing disagreed: %w",
				w, count, first.Rows, first.Distinct, source.ErrIncomplete))
		}
		st.Completeness = source.CompletenessStoredDuplicates
	}
	return st, nil
}

// list serves rows once through the duplicate check: with emit it
// delivers w's records, without it only fingerprints the listing.
func (m *Memory) list(ctx context.Context, w audit.Window, rows []audit.Record, count int64, st *source.Stats, emit func(*audit.Record) error, fault Fault) (source.Listing, error) {
	pages := max(1, (len(rows)+m.opts.PageSize-1)/m.opts.PageSize)
	st.Pages += pages
	m.mu.Lock()
	m.c.Pages += pages
	m.mu.Unlock()
	d := source.NewDeduper(source.DedupeConfig{Seed: m.seed}, w, emit, st)
	defer d.Close()
	var r audit.Record // reused, as a source's decoder does
	for i := range rows {
		if err := ctx.Err(); err != nil {
			return d.Listing(), fmt.Errorf("fetch window %s: %w", w, err)
		}
		if fault.Err != nil && st.Records >= fault.After {
			return d.Listing(), fmt.Errorf("fetch window %s: %w", w, fault.Err)
		}
		r = rows[i]
		if err := d.Add(&r, count); err != nil {
			return d.Listing(), err
		}
	}
	if fault.Err != nil {
		return d.Listing(), fmt.Errorf("fetch window %s: %w", w, fault.Err)
	}
	return d.Finish()
}
