// Package source is what every audit log source shares: the contract the
// exporter reads a window through (Stats, ErrIncomplete, the completeness
// readings, typed retry causes), the adaptive request rate controller, and
// the per-window duplicate check with its disk spool. A source (the Neo
// OData client, the Cloud Foundry client) does its own I/O against the
// API and uses these for everything else.
package source

import (
	"context"
	"errors"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// Source reads one account's audit log. Every source provides all of it;
// where an API cannot (no count), the result says so.
type Source interface {
	// Token gets the access token up front, so that a run with bad
	// credentials fails before anything else.
	Token(ctx context.Context) error
	// Fetch streams every record of window w to emit, each Uuid once (the
	// record is reused after emit returns). ErrIncomplete (retryable)
	// means records may have been skipped: fetching again usually helps.
	Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (Stats, error)
	// Count is the API's count for window w's query as Fetch sends it
	// (padded), without fetching records; -1 when the API counts nothing.
	Count(ctx context.Context, w audit.Window) (int64, error)
	// Retention is how long the API keeps records, and how that is known
	// (for the retention-horizon warning).
	Retention(ctx context.Context) (keep time.Duration, how string)
	// Probe reads at most one record, proving the credentials may read the
	// audit log, and returns how many records the account holds (-1:
	// unknown).
	Probe(ctx context.Context) (int64, error)
	// Scrub cleans server-supplied text (a record's id in a report line)
	// of the source's credentials and tokens.
	Scrub(s string) string
}

// ErrIncomplete means the evidence shows records skipped while paging: the
// pages served fewer rows than the server counted, or a second listing of
// the window disagreed with the first. Fetching the window again usually
// succeeds.
var ErrIncomplete = errors.New("records may have been skipped while paging")

// How a window's listing was judged complete (Stats.Completeness, and the
// manifest's "completeness").
const (
	// CompletenessCounted: the distinct records served cover the server's
	// count.
	CompletenessCounted = "counted"
	// CompletenessStoredDuplicates: the rows served cover the server's
	// count but fewer distinct Uuids did (the service stores some records
	// twice and counts rows), and a second listing served the same
	// distinct set.
	CompletenessStoredDuplicates = "stored-duplicates"
	// CompletenessUncounted: the API sent no count; the listing was
	// followed to its end, and only verify's re-reading can check it later.
	CompletenessUncounted = "uncounted"
)

// RetryCause is why a request was repeated (the metric label).
type RetryCause string

// The retry causes.
const (
	CauseThrottled     RetryCause = "throttled"      // 429, or 503 with Retry-After
	CauseServerError   RetryCause = "server_error"   // another 5xx (or 408)
	CauseNetwork       RetryCause = "network"        // no answer, a dropped connection
	CauseBadBody       RetryCause = "bad_body"       // a 200 whose body could not be read
	CauseTokenExpired  RetryCause = "token_expired"  // a 401: the token was renewed
	CauseTokenEndpoint RetryCause = "token_endpoint" // the token endpoint failed
)

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
	ServerCount    int64  // the server's count for the padded query, -1 if not sent
	Completeness   string // CompletenessCounted, ...StoredDuplicates or ...Uncounted
	Retries        int    // requests repeated after a retryable failure
	// Throttled counts the requests the API refused with 429 (or 503 with
	// Retry-After); Waited is the time requests waited for the adaptive
	// request rate or a Retry-After pause; Rate is the allowed request rate
	// when the fetch ended (requests per second).
	Throttled int
	Waited    time.Duration
	Rate      float64
	// RetryCauses counts the retries by cause.
	RetryCauses map[RetryCause]int
}

// NewStats is the Stats a fetch starts from: no count seen yet.
func NewStats() Stats {
	return Stats{ServerCount: -1, RetryCauses: map[RetryCause]int{}}
}

// Retried counts one repeated request and its cause.
func (st *Stats) Retried(c RetryCause) {
	if st.RetryCauses == nil {
		st.RetryCauses = map[RetryCause]int{}
	}
	st.Retries++
	st.RetryCauses[c]++
}

// causeError carries a retry cause a source knows better than its error's
// shape tells (a token endpoint's failure, say).
type causeError struct {
	cause RetryCause
	err   error
}

func (e *causeError) Error() string { return e.err.Error() }
func (e *causeError) Unwrap() error { return e.err }

// WithCause marks err as failing for cause c; CauseOf finds it.
func WithCause(c RetryCause, err error) error {
	if err == nil {
		return nil
	}
	return &causeError{cause: c, err: err}
}

// CauseOf returns the cause err was marked with by WithCause.
func CauseOf(err error) (RetryCause, bool) {
	var ce *causeError
	if errors.As(err, &ce) {
		return ce.cause, true
	}
	return "", false
}
