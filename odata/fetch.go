package odata

import (
	"context"
	"fmt"
	"hash/maphash"
	"net/url"
	"strconv"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// MaxNextLinkBytes is the longest @odata.nextLink followed.
const MaxNextLinkBytes = 16 << 10

// maxEmptyPages is how many pages in a row may carry no record while still
// pointing at a next page.
const maxEmptyPages = 3

// listing is what one pass over a window's pages saw.
type listing struct {
	count int64 // @odata.count of the first page, -1 if none
	source.Listing
}

func (l listing) sameSet(o listing) bool {
	return l.count == o.count && l.Listing.SameSet(o.Listing)
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
func (c *Client) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	st := source.NewStats()
	first, err := c.list(ctx, w, &st, emit)
	st.Rows, st.Distinct, st.ServerCount = first.Rows, first.Distinct, first.count
	if err != nil {
		return st, c.scrubErr(err)
	}
	switch {
	case first.count < 0:
		st.Completeness = source.CompletenessUncounted
		c.warnUncounted.Do(func() {
			c.log.Warn().Str("window", w.Span()).Msg("the API sends no @odata.count: windows are exported as listed and their manifests record the source count as unknown; run verify to re-read them later")
		})
	case first.Distinct >= first.count:
		st.Completeness = source.CompletenessCounted
	case first.Rows < first.count:
		return st, errclass.Mark(errclass.Retryable, fmt.Errorf("window %s: the server counted %d records for the query but served %d rows (%d distinct) over %d pages: %w",
			w, first.count, first.Rows, first.Distinct, st.Pages, source.ErrIncomplete))
	default:
		second, err := c.list(ctx, w, &st, nil)
		if err != nil {
			return st, c.scrubErr(fmt.Errorf("second listing of window %s: %w", w, err))
		}
		if !second.sameSet(first) {
			return st, errclass.Mark(errclass.Retryable, fmt.Errorf("window %s: the server counted %d records and served %d rows but only %d distinct, and a second listing disagreed (count %d, %d distinct, another set): %w",
				w, first.count, first.Rows, first.Distinct, second.count, second.Distinct, source.ErrIncomplete))
		}
		st.Completeness = source.CompletenessStoredDuplicates
		c.log.Info().Str("window", w.Span()).Int64("count", first.count).Int64("rows", first.Rows).Int64("distinct", first.Distinct).
			Msg("the server counts records it stores twice; a second listing served the same distinct records, so the window is complete")
	}
	st.Rate = c.api.Rate()
	if st.Conflicts > 0 {
		c.log.Warn().Str("window", w.Span()).Int("conflicts", st.Conflicts).Str("uuid", c.scrub(shorten(first.Conflict, 100))).
			Msg("the server served a Uuid again with different content; the first copy was exported")
	}
	return st, nil
}

// list pages through window w's padded query once. With emit it delivers
// the window's records and fills st's record counts; without, it only
// fingerprints the listing (a second listing).
func (c *Client) list(ctx context.Context, w audit.Window, st *source.Stats, emit func(*audit.Record) error) (listing, error) {
	pg := c.newPager(w)
	pg.pass = c.cfg.BigPages.Pass(ctx)
	defer pg.pass.Release()
	d := source.NewDeduper(c.dedupe, w, emit, st)
	defer d.Close()
	var page Page
	for {
		more, err := pg.next(ctx, &page, st)
		if err != nil {
			return listing{count: pg.count, Listing: d.Listing()}, err
		}
		if !more {
			break
		}
		for i := range page.Records {
			if err := d.Add(&page.Records[i], pg.count); err != nil {
				return listing{count: pg.count, Listing: d.Listing()}, err
			}
		}
		if pg.url != nil {
			if err := d.NextPage(); err != nil {
				return listing{count: pg.count, Listing: d.Listing()}, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: %w; refusing to follow (the next run tries again)", w, pg.pages, err))
			}
		}
	}
	l, err := d.Finish()
	return listing{count: pg.count, Listing: l}, err
}

// pager walks one window's padded query page by page: it follows
// @odata.nextLink (re-based onto the API URL, never repeated), or pages
// with $top/$skip when the links drop the window's filter or point at
// another path than the records path, and refuses a
// listing that does not end (source.max_pages_per_window, more than twice
// the counted records in pages, empty pages that still point on).
type pager struct {
	c      *Client
	w      audit.Window
	filter string
	url    *url.URL // the next page's; nil: the listing ended
	links  map[uint64]struct{}
	dec    *pageDecoder
	pass   *source.PagePass // holds the big-page gate until the next page
	count  int64            // @odata.count of the first page, -1 if none

	pages, empty int
	skipMode     bool
	skip, top    int
}

func (c *Client) newPager(w audit.Window) *pager {
	filter := "$filter=" + queryEscape(WindowFilter(w.Start, w.End, c.cfg.Filter))
	u := *c.recordsURL
	u.RawQuery = filter + "&$count=true"
	return &pager{c: c, w: w, filter: filter, url: &u, links: map[uint64]struct{}{}, dec: newPageDecoder(), count: -1, top: ServerPageSize}
}

// next fetches the next page into page; false when the listing has ended.
func (pg *pager) next(ctx context.Context, page *Page, st *source.Stats) (bool, error) {
	if pg.url == nil {
		return false, nil
	}
	c, w := pg.c, pg.w
	cur := pg.url
	pg.url = nil
	pg.pages++
	st.Pages++
	switch {
	case pg.pages > c.cfg.MaxPagesPerWindow:
		return false, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: more than %d pages (source.max_pages_per_window); the server's listing does not end", w, c.cfg.MaxPagesPerWindow))
	case pg.count >= 0 && int64(pg.pages) > 2*pg.count+10:
		return false, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: %d pages for %d counted records; the server's listing does not end", w, pg.pages, pg.count))
	}
	pg.pass.Release() // the last page's records are handed on
	if err := c.getPage(ctx, cur, pg.dec, page, st, pg.pass); err != nil {
		return false, fmt.Errorf("fetch page %d of window %s: %w", pg.pages, w, err)
	}
	if pg.pages == 1 && page.HasCount {
		pg.count = page.Count
	}
	if len(page.Records) == 0 && page.NextLink != "" {
		if pg.empty++; pg.empty > maxEmptyPages {
			return false, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: %d pages in a row without records still point at a next page; refusing to follow", w, pg.empty))
		}
	} else {
		pg.empty = 0
	}
	if pg.skipMode {
		// More rows than asked for means the page repeats some: the
		// server consumed top of its collection.
		pg.skip += min(len(page.Records), pg.top)
		if len(page.Records) > 0 && (page.NextLink != "" || len(page.Records) >= pg.top) {
			pg.url = c.skipURL(pg.filter, pg.top, pg.skip)
		}
		return true, nil
	}
	if page.NextLink == "" {
		return true, nil
	}
	if len(page.NextLink) > MaxNextLinkBytes {
		return false, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: @odata.nextLink of %d bytes is longer than %d; refusing to follow", w, pg.pages, len(page.NextLink), MaxNextLinkBytes))
	}
	n, err := RebaseNextLink(c.base, cur, c.recordsURL.EscapedPath(), page.NextLink)
	if err != nil {
		// A link on another path (or of another scheme, or no URL at all)
		// is never followed: the token stays with the records path. The
		// server says more records remain, so page the window's query
		// ourselves, as when links drop $filter: no window fails for it.
		c.warnForeignLink.Do(func() {
			c.log.Warn().Str("window", w.Span()).Str("next_link", c.scrub(shorten(page.NextLink, 300))).Str("reason", c.scrub(shorten(err.Error(), 400))).
				Msg("the API's @odata.nextLink points elsewhere than its records path and is not followed; windows are paged with $top/$skip and the filter instead (said once per run)")
		})
		pg.skipMode, pg.skip, pg.top = true, len(page.Records), min(max(len(page.Records), 1), ServerPageSize)
		pg.url = c.skipURL(pg.filter, pg.top, pg.skip)
		return true, nil
	}
	if q, err := url.ParseQuery(n.RawQuery); err != nil || !q.Has("$filter") {
		// The link lost the window's filter: following it would page the
		// whole retention. Page the query ourselves instead, asking for
		// pages of the size the server chose for the first one.
		c.log.Debug().Str("window", w.Span()).Msg("@odata.nextLink drops $filter; paging with $top/$skip")
		pg.skipMode, pg.skip, pg.top = true, len(page.Records), min(max(len(page.Records), 1), ServerPageSize)
		pg.url = c.skipURL(pg.filter, pg.top, pg.skip)
		return true, nil
	}
	key := maphash.String(c.seed, n.String())
	if _, loop := pg.links[key]; loop {
		return false, errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: @odata.nextLink %q repeats an earlier page; refusing to loop", w, pg.pages, shorten(page.NextLink, 300)))
	}
	pg.links[key] = struct{}{}
	pg.url = n
	return true, nil
}

// skipURL is the window's query paged by the client: $top and $skip with
// the filter on every request.
func (c *Client) skipURL(filter string, top, skip int) *url.URL {
	u := *c.recordsURL
	u.RawQuery = filter + "&$top=" + strconv.Itoa(top) + "&$skip=" + strconv.Itoa(skip)
	return &u
}
