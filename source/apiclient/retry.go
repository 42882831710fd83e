package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/cenkalti/backoff/v4"
)

// MaxRetryAfter caps how long a Retry-After header can make us wait.
const MaxRetryAfter = 5 * time.Minute

// retryAfterError carries the server's Retry-After hint with a retryable error.
type retryAfterError struct {
	after     time.Duration // capped at MaxRetryAfter
	asked     time.Duration // as the server said it (saturating)
	throttled bool          // 429: the client's request rate is too high
	err       error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

func retryAfterOf(err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after
	}
	return 0
}

// askedRetryAfter is the wait the server asked for, uncapped.
func askedRetryAfter(err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.asked
	}
	return 0
}

func throttled(err error) bool {
	var ra *retryAfterError
	return errors.As(err, &ra) && ra.throttled
}

// parseRetryAfter reads a Retry-After value in delay-seconds or HTTP-date
// form. Unparseable or past values are 0; large ones are capped at MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	return min(retryAfterAsked(v, now), MaxRetryAfter)
}

// retryAfterAsked is the wait a Retry-After value asks for, uncapped (at
// most about 292 years); 0 for none, unparseable or past.
func retryAfterAsked(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	secs, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && v[0] != '-' {
		return math.MaxInt64 // more seconds than a Duration holds
	}
	if err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(d, 0)
}

// newRetryAfterError carries a retryable err with the server's Retry-After.
func newRetryAfterError(header string, now time.Time, throttled bool, err error) *retryAfterError {
	asked := retryAfterAsked(header, now)
	return &retryAfterError{after: min(asked, MaxRetryAfter), asked: asked, throttled: throttled, err: err}
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Get GETs u with the bearer token, retries and the adaptive request rate,
// and hands a successful answer (200, or 204 with an empty body) to read,
// whose error counts like the request's (a retryable one is retried). It
// counts in st how many times the request was repeated, each repeat's
// cause, and the time spent waiting for the request rate.
func (c *Client) Get(ctx context.Context, u *url.URL, st *source.Stats, read func(h http.Header, status int, body io.Reader) error) error {
	retries := 0
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.InitialBackoff),
		backoff.WithMaxInterval(30*time.Second),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
	)
	bo.Reset()
	renewed := false
	for {
		if _, err := c.admit(ctx, st); err != nil {
			return err
		}
		// When it went: a refusal of a request sent before the last cut
		// was paced by the rate before it (one refusal, one cut).
		sent := c.now()
		err := c.getOnce(ctx, u, read, &renewed)
		c.settle(sent, err)
		if err == nil {
			return nil
		}
		if errors.Is(err, errTokenRenewed) {
			retries++
			st.Retried(source.CauseTokenExpired)
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errclass.Classify(err) != errclass.Retryable {
			return err
		}
		if asked := askedRetryAfter(err); asked > 0 && asked > c.cfg.MaxElapsed-bo.GetElapsedTime() {
			// Waiting would outlast retry.max_elapsed: say so now rather
			// than wait and then give up.
			return fmt.Errorf("%w: the API asks to wait %s (Retry-After), more than retry.max_elapsed (%s) leaves; giving up now, the next run tries again", err, asked.Round(time.Second), c.cfg.MaxElapsed)
		}
		d := bo.NextBackOff()
		if d == backoff.Stop {
			return fmt.Errorf("giving up after %d attempts in %s (retry.max_elapsed): %w", retries+1, bo.GetElapsedTime().Round(time.Millisecond), err)
		}
		if ra := retryAfterOf(err); ra > d {
			d = ra
		}
		retries++
		st.Retried(retryCause(err))
		c.log.Debug().Err(c.ScrubErr(err)).Dur("delay", d).Int("attempt", retries+1).Msg("retrying request")
		if throttled(err) {
			st.Throttled++
			if retryAfterOf(err) > 0 {
				// The API said how long: every worker of this account
				// waits, this one included, before its next request.
				c.pauseAll(d)
				continue
			}
			st.Waited += d
		}
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// admit waits until the next request may go: out a Retry-After pause of
// this client, then for the rate controller. It returns when the request
// asked the controller to go, so that a refusal of a request paced by an
// earlier rate is not taken for a refusal at the current one.
func (c *Client) admit(ctx context.Context, st *source.Stats) (time.Time, error) {
	if d := c.pausedFor(); d > 0 {
		if err := c.sleep(ctx, d); err != nil {
			return time.Time{}, err
		}
		st.Waited += d
	}
	issued := c.now()
	if err := c.rc.Wait(ctx); err != nil {
		return issued, err
	}
	st.Waited += c.now().Sub(issued)
	return issued, nil
}

// retryCause names why a retryable request failed, for metrics. A source
// marks its own causes with source.WithCause (a body it could not read is
// CauseBadBody).
func retryCause(err error) source.RetryCause {
	var ra *retryAfterError
	if throttled(err) {
		return source.CauseThrottled
	}
	if c, ok := source.CauseOf(err); ok {
		return c
	}
	switch {
	case errors.As(err, &ra):
		return source.CauseServerError
	}
	return source.CauseNetwork
}
