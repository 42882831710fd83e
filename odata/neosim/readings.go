package neosim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Readings chooses, for each question SAP's documentation leaves open, how
// the simulated service answers it. The exporter must be exactly-once under
// every combination; tests run across AllReadings. The zero value is the
// reading the simulator had before the questions were asked: count of
// distinct records, pages of PageSize, inclusive bounds, an arbitrary but
// stable order, nextLinks that keep $filter.
type Readings struct {
	// Count is what @odata.count counts when the service stores a record
	// twice: CountDistinct (default), CountRows, or CountNone (not sent).
	Count CountReading
	// StoredDuplicates is the share of records the service stores twice
	// (two rows, the same Uuid and content), chosen by Uuid hash.
	StoredDuplicates float64
	// ShrinkingPages: pages after the first hold fewer records than the
	// first (a byte-limited server).
	ShrinkingPages bool
	// ExclusiveBounds: `Time ge` and `Time le` compare exclusively (as gt/lt).
	ExclusiveBounds bool
	// NewestFirst: the collection is ordered newest first, and $skiptoken is
	// an offset into the live collection, so a record that becomes visible
	// mid-paging shifts every later page by one.
	NewestFirst bool
	// NextLinkDropsFilter: @odata.nextLink carries only $skiptoken (and
	// $count), not the request's $filter or $top.
	NextLinkDropsFilter bool
	// NextLinkOtherPath: @odata.nextLink points at another path than the
	// request's (an internal route, /internal/auditlog/v1/...), which the
	// client must not follow.
	NextLinkOtherPath bool
	// NextLinkOtherHost: @odata.nextLink points at another host than the
	// API's, behind a path prefix of its own
	// (https://auditlog-backend.internal.example:8443/api/auditlog/v1/...).
	NextLinkOtherHost bool
}

// ClientPages reports whether the client must page windows itself with
// $top/$skip under r: nextLinks that drop $filter or point elsewhere.
func (r Readings) ClientPages() bool {
	return r.NextLinkDropsFilter || r.NextLinkOtherPath || r.NextLinkOtherHost
}

// Where the nextLink readings point.
const (
	otherPathPrefix = "/internal"
	otherHostOrigin = "https://auditlog-backend.internal.example:8443/api"
)

// CountReading is what @odata.count counts.
type CountReading int

// The readings of @odata.count.
const (
	CountDistinct CountReading = iota // records with distinct Uuids
	CountRows                         // stored rows, a record stored twice counts twice
	CountNone                         // no @odata.count in any response
)

func (c CountReading) String() string {
	switch c {
	case CountRows:
		return "rows"
	case CountNone:
		return "none"
	}
	return "distinct"
}

// switches names the boolean readings, for String and ParseReadings.
func (r *Readings) switches() []struct {
	name string
	on   *bool
} {
	return []struct {
		name string
		on   *bool
	}{{"shrinking-pages", &r.ShrinkingPages}, {"exclusive-bounds", &r.ExclusiveBounds}, {"newest-first", &r.NewestFirst}, {"nextlink-drops-filter", &r.NextLinkDropsFilter},
		{"nextlink-other-path", &r.NextLinkOtherPath}, {"nextlink-other-host", &r.NextLinkOtherHost}}
}

// String renders r in the form ParseReadings reads ("documented" for the zero value).
func (r Readings) String() string {
	var parts []string
	if r.Count != CountDistinct {
		parts = append(parts, "count="+r.Count.String())
	}
	if r.StoredDuplicates > 0 {
		parts = append(parts, "stored-duplicates="+strconv.FormatFloat(r.StoredDuplicates, 'g', -1, 64))
	}
	for _, s := range r.switches() {
		if *s.on {
			parts = append(parts, s.name)
		}
	}
	if len(parts) == 0 {
		return "documented"
	}
	return strings.Join(parts, ",")
}

// ParseReadings reads a comma-separated list such as
// "count=rows,stored-duplicates=0.05,shrinking-pages,exclusive-bounds,newest-first,nextlink-drops-filter,nextlink-other-path,nextlink-other-host".
// "" and "documented" are the zero value; "all-odd" switches every
// alternative reading on (count=rows, 5% stored duplicates).
func ParseReadings(s string) (Readings, error) {
	var r Readings
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, val, hasVal := strings.Cut(part, "=")
		switch name {
		case "", "documented":
		case "all-odd":
			r = Readings{Count: CountRows, StoredDuplicates: 0.05, ShrinkingPages: true, ExclusiveBounds: true, NewestFirst: true, NextLinkDropsFilter: true, NextLinkOtherHost: true}
		case "count":
			found := false
			for _, c := range []CountReading{CountDistinct, CountRows, CountNone} {
				if val == c.String() {
					r.Count, found = c, true
				}
			}
			if !found {
				return r, fmt.Errorf("readings: count=%q: want distinct, rows or none", val)
			}
		case "stored-duplicates":
			f, err := strconv.ParseFloat(val, 64)
			if !hasVal || err != nil || f < 0 || f > 1 {
				return r, fmt.Errorf("readings: stored-duplicates=%q: want a share from 0 to 1", val)
			}
			r.StoredDuplicates = f
		default:
			known := false
			for _, s := range r.switches() {
				if name == s.name && !hasVal {
					*s.on, known = true, true
				}
			}
			if known {
				continue
			}
			return r, fmt.Errorf("readings: unknown reading %q (known: documented, all-odd, count=distinct|rows|none, stored-duplicates=F, shrinking-pages, exclusive-bounds, newest-first, nextlink-drops-filter, nextlink-other-path, nextlink-other-host)", part)
		}
	}
	return r, nil
}

// AllReadings returns a set of readings that takes every alternative of
// every undocumented question at least once, alone and together, by name.
// Stored duplicates are present wherever the count reading is at stake.
func AllReadings() map[string]Readings {
	m := map[string]Readings{
		"documented":                  {},
		"count-distinct-stored-dupes": {Count: CountDistinct, StoredDuplicates: 0.05},
		"count-rows-stored-dupes":     {Count: CountRows, StoredDuplicates: 0.05},
		"no-count-stored-dupes":       {Count: CountNone, StoredDuplicates: 0.05},
		"shrinking-pages":             {ShrinkingPages: true},
		"exclusive-bounds":            {ExclusiveBounds: true},
		"newest-first":                {NewestFirst: true},
		"nextlink-drops-filter":       {NextLinkDropsFilter: true},
		"nextlink-other-path":         {NextLinkOtherPath: true},
		"nextlink-other-host":         {NextLinkOtherHost: true, Count: CountNone},
	}
	m["all-odd"], _ = ParseReadings("all-odd")
	return m
}

// ReadingNames returns AllReadings' names in a stable order.
func ReadingNames() []string {
	var names []string
	for n := range AllReadings() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
