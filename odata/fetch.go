package odata

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"strconv"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// ErrIncomplete means the evidence shows records skipped while paging: the
// pages served fewer rows than the server counted, or a second listing of
// the window disagreed with the first. Fetching the window again usually
// succeeds.
var ErrIncomplete = errors.New("records may have been skipped while paging")

// How a window's listing was judged complete (Stats.Completeness, and the
// manifest's "completeness").
const (
	// CompletenessCounted: the distinct records served cover @odata.count.
	CompletenessCounted = "counted"
	// CompletenessStoredDuplicates: the rows served cover @odata.count but
	// fewer distinct Uuids did (the service stores some records twice and
	// counts rows), and a second listing served the same distinct set.
	CompletenessStoredDuplicates = "stored-duplicates"
	// CompletenessUncounted: the API sent no @odata.count; the listing was
	// followed to its end, and only verify's re-reading can check it later.
	CompletenessUncounted = "uncounted"
)

// MaxNextLinkBytes is the longest @odata.nextLink followed.
const MaxNextLinkBytes = 16 << 10

// maxEmptyPages is how many pages in a row may carry no record while still
// pointing at a next page.
const maxEmptyPages = 3

// Stats describes one window fetch.
type Stats struct {
	Pages      int // pages fetched (a second listing's too)
	Records    int // records delivered (inside the window, first copy)
	Outside    int // distinct records of the padded query outside the window
	Duplicates int // repeated Uuids dropped
	// Conflicts counts Uuids served again with different content; the
	// first copy is the one exported.
	Conflicts int
	// Rows and Distinct are the rows served for the padded query and their
	// distinct Uuids (the first listing).
	Rows, Distinct int64
	ServerCount    int64  // @odata.count for the padded query, -1 if not sent
	Completeness   string // CompletenessCounted, ...StoredDuplicates or ...Uncounted
	Retries        int    // requests repeated after a retryable failure
	// Throttled counts the requests the API refused with 429 (or 503 with
	// Retry-After); Waited is the time requests waited for the adaptive
	// request rate or a Retry-After pause; Rate is the allowed request rate
	// when the fetch ended (requests per second).
	Throttled int
	Waited    time.Duration
	Rate      float64
	// RetryCauses counts the retries by cause: throttled, server_error,
	// network, bad_body, token_expired, token_endpoint.
	RetryCauses map[string]int
}

// listing is what one pass over a window's pages saw.
type listing struct {
	count          int64 // @odata.count of the first page, -1 if none
	rows, distinct int64
	sum, xor       uint64 // an order-independent fingerprint of the distinct Uuid hashes
	conflict       string // the Uuid of one record served again with other content
}

func (l listing) sameSet(o listing) bool {
	return l.count == o.count && l.distinct == o.distinct && l.sum == o.sum && l.xor == o.xor
}

// Fetch streams every record of window w to emit, each Uuid once. The
// record passed to emit is reused after emit returns: copy it to keep it.
// At most one page is held in memory. An error from emit stops the fetch
// and is returned as is.
//
// Completeness is judged so that it holds under every reading of what the
// API leaves undocumented: distinct records covering @odata.count are
// complete; fewer rows than counted is ErrIncomplete; rows that cover the
// count with fewer distinct Uuids (stored duplicates counted as rows, or a
// listing that shifted) are complete only if a second listing serves the
// same distinct set, else ErrIncomplete; without a count the listing is
// exported and the run warns once.
func (c *Client) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (Stats, error) {
	st := Stats{ServerCount: -1, RetryCauses: map[string]int{}}
	first, err := c.list(ctx, w, &st, emit)
	st.Rows, st.Distinct, st.ServerCount = first.rows, first.distinct, first.count
	if err != nil {
		return st, c.scrubErr(err)
	}
	switch {
	case first.count < 0:
		st.Completeness = CompletenessUncounted
		c.warnUncounted.Do(func() {
			c.log.Warn().Str("window", w.Span()).Msg("the API sends no @odata.count: windows are exported as listed and their manifests record the source count as unknown; run verify to re-read them later")
		})
	case first.distinct >= first.count:
		st.Completeness = CompletenessCounted
	case first.rows < first.count:
		return st, errclass.Mark(errclass.Retryable, fmt.Errorf("window %s: the server counted %d records for the query but served %d rows (%d distinct) over %d pages: %w",
			w, first.count, first.rows, first.distinct, st.Pages, ErrIncomplete))
	default:
		second, err := c.list(ctx, w, &st, nil)
		if err != nil {
			return st, c.scrubErr(fmt.Errorf("second listing of window %s: %w", w, err))
		}
		if !second.sameSet(first) {
			return st, errclass.Mark(errclass.Retryable, fmt.Errorf("window %s: the server counted %d records and served %d rows but only %d distinct, and a second listing disagreed (count %d, %d distinct, another set): %w",
				w, first.count, first.rows, first.distinct, second.count, second.distinct, ErrIncomplete))
		}
		st.Completeness = CompletenessStoredDuplicates
		c.log.Info().Str("window", w.Span()).Int64("count", first.count).Int64("rows", first.rows).Int64("distinct", first.distinct).
			Msg("the server counts records it stores twice; a second listing served the same distinct records, so the window is complete")
	}
	st.Rate = c.rc.Rate()
	if st.Conflicts > 0 {
		c.log.Warn().Str("window", w.Span()).Int("conflicts", st.Conflicts).Str("uuid", c.scrub(first.conflict)).
			Msg("the server served a Uuid again with different content; the first copy was exported")
	}
	return st, nil
}

// list pages through window w's padded query once. With emit it delivers
// the window's records and fills st's record counts; without, it only
// fingerprints the listing (a second listing).
func (c *Client) list(ctx context.Context, w audit.Window, st *Stats, emit func(*audit.Record) error) (listing, error) {
	l := listing{count: -1}
	filter := "$filter=" + queryEscape(WindowFilter(w.Start, w.End, c.cfg.Filter))
	u := *c.recordsURL
	u.RawQuery = filter + "&$count=true"
	next := &u

	mem := newUUIDSet(1024)
	defer func() { mem.release() }()
	var sp *spool
	defer func() {
		if sp != nil {
			sp.close()
		}
	}()
	var buf []byte
	contentOf := func(r *audit.Record) uint64 {
		buf = audit.AppendBinary(buf[:0], r)
		return maphash.Bytes(c.seed, buf)
	}
	settle := func(r *audit.Record, key, content uint64, fresh bool, prev uint64) error {
		if !fresh {
			if emit != nil {
				st.Duplicates++
				if prev != content {
					st.Conflicts++
					if l.conflict == "" {
						l.conflict = shorten(r.UUID, 100)
					}
				}
			}
			return nil
		}
		l.distinct++
		l.sum += key
		l.xor ^= key
		if emit == nil {
			return nil
		}
		if !w.Contains(r.Time) {
			st.Outside++
			return nil
		}
		if err := emit(r); err != nil {
			return err
		}
		st.Records++
		return nil
	}

	links := map[uint64]struct{}{}
	skipMode, skip, top, empty, pages := false, 0, ServerPageSize, 0, 0
	dec := newPageDecoder()
	var page Page
	for next != nil {
		cur := next
		pages++
		st.Pages++
		switch {
		case pages > c.cfg.MaxPagesPerWindow:
			return l, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: more than %d pages (source.max_pages_per_window); the server's listing does not end", w, c.cfg.MaxPagesPerWindow))
		case l.count >= 0 && int64(pages) > 2*l.count+10:
			return l, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: %d pages for %d counted records; the server's listing does not end", w, pages, l.count))
		}
		err := c.getPage(ctx, cur, dec, &page, st)
		if err != nil {
			return l, fmt.Errorf("fetch page %d of window %s: %w", pages, w, err)
		}
		if pages == 1 && page.HasCount {
			l.count = page.Count
		}
		for i := range page.Records {
			r := &page.Records[i]
			l.rows++
			key := keyOf(r.UUID)
			if sp != nil {
				err = sp.add(key, r)
			} else {
				content := contentOf(r)
				fresh, prev := mem.add(key, content)
				err = settle(r, key, content, fresh, prev)
				if err == nil && mem.n >= int(c.cfg.SpillThreshold) {
					// Enough in memory: the rest of the window goes to disk,
					// in as many partitions as the count suggests (capped).
					hint := max(l.count, 2*c.cfg.SpillThreshold)
					sp = newSpool(c.cfg.SpoolDir, int((hint+c.cfg.SpoolPartition-1)/c.cfg.SpoolPartition))
				}
			}
			if err != nil {
				return l, err
			}
		}
		if len(page.Records) == 0 && page.NextLink != "" {
			if empty++; empty > maxEmptyPages {
				return l, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: %d pages in a row without records still point at a next page; refusing to follow", w, empty))
			}
		} else {
			empty = 0
		}
		next = nil
		if skipMode {
			// More rows than asked for means the page repeats some: the
			// server consumed top of its collection.
			skip += min(len(page.Records), top)
			if len(page.Records) == 0 || (page.NextLink == "" && len(page.Records) < top) {
				break
			}
			next = c.skipURL(filter, top, skip)
			continue
		}
		if page.NextLink == "" {
			break
		}
		if len(page.NextLink) > MaxNextLinkBytes {
			return l, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: @odata.nextLink of %d bytes is longer than %d; refusing to follow", w, pages, len(page.NextLink), MaxNextLinkBytes))
		}
		n, err := RebaseNextLink(c.base, cur, c.recordsURL.EscapedPath(), page.NextLink)
		if err != nil {
			return l, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: %w", w, pages, err))
		}
		if q, err := url.ParseQuery(n.RawQuery); err != nil || !q.Has("$filter") {
			// The link lost the window's filter: following it would page
			// the whole retention. Page the query ourselves instead.
			c.log.Debug().Str("window", w.Span()).Msg("@odata.nextLink drops $filter; paging with $top/$skip")
			// Ask for pages of the size the server chose for the first one.
			skipMode, skip, top = true, len(page.Records), min(max(len(page.Records), 1), ServerPageSize)
			next = c.skipURL(filter, top, skip)
			continue
		}
		key := maphash.String(c.seed, n.String())
		if _, loop := links[key]; loop {
			return l, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: @odata.nextLink %q repeats an earlier page; refusing to loop", w, pages, shorten(page.NextLink, 300)))
		}
		links[key] = struct{}{}
		next = n
	}
	if sp != nil {
		err := sp.drain(func(r *audit.Record, seen *uuidSet) error {
			key, content := keyOf(r.UUID), contentOf(r)
			if prev, ok := mem.get(key); ok {
				return settle(r, key, content, false, prev)
			}
			fresh, prev := seen.add(key, content)
			return settle(r, key, content, fresh, prev)
		})
		if err != nil {
			return l, err
		}
	}
	return l, nil
}

// skipURL is the window's query paged by the client: $top and $skip with
// the filter on every request.
func (c *Client) skipURL(filter string, top, skip int) *url.URL {
	u := *c.recordsURL
	u.RawQuery = filter + "&$top=" + strconv.Itoa(top) + "&$skip=" + strconv.Itoa(skip)
	return &u
}
