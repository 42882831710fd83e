package odata

import (
	"net/url"
	"strings"
	"time"
)

// timeLiteralLayout is the documented $filter time format: yyyy-mm-ddThh.MM.ss, UTC.
const timeLiteralLayout = "2006-01-02T15.04.05"

// FilterPadding widens the server-side time filter on both sides of a window.
// The API compares at whole seconds with undocumented boundary semantics (its
// own example writes `le ... or eq ...`), so the query asks for a little more
// and the exact window membership is decided on each record's parsed Time.
const FilterPadding = 2 * time.Second

// TimeLiteral renders t as a $filter time literal, truncated to the second.
func TimeLiteral(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(timeLiteralLayout)
}

// ParseTimeLiteral parses a $filter time literal (yyyy-mm-ddThh.MM.ss, UTC).
func ParseTimeLiteral(s string) (time.Time, error) {
	return time.ParseInLocation(timeLiteralLayout, s, time.UTC)
}

// WindowFilter returns the $filter for [start, end), padded by FilterPadding,
// ANDed with the user's extra filter when it is not empty.
func WindowFilter(start, end time.Time, extra string) string {
	f := "Time ge '" + TimeLiteral(start.Add(-FilterPadding)) + "' and Time le '" + TimeLiteral(end.Add(FilterPadding)) + "'"
	if extra = strings.TrimSpace(extra); extra != "" {
		f = "(" + f + ") and (" + extra + ")"
	}
	return f
}

// queryEscape escapes a query value with %20 for spaces: OData servers do not
// all read '+' as a space.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
