package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenAttempts is one try plus at most two retries: the OAuth service
// rate-limits, and SAP asks clients not to hammer it.
const tokenAttempts = 3

// tokenSource issues one access token and reuses it until shortly before it
// expires or until the API rejects it. Safe for concurrent use.
type tokenSource struct {
	cc    clientcredentials.Config
	httpc *http.Client
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	delay func(attempt int) time.Duration
	// maxElapsed bounds the time one issuing spends on its tries.
	maxElapsed time.Duration
	// scrub cleans server-supplied text (error descriptions).
	scrub func(string) string
	// refusedHint says what to check when the credentials are refused.
	refusedHint string

	mu      sync.Mutex
	token   string
	renewAt time.Time
	// all holds the tokens issued so far (the latest few), to scrub them
	// from anything a server sends back.
	all []string
	// failed is the error of an issuing that used up its tries: the run
	// does not ask the OAuth service again.
	failed error
	// budget is the token requests the client may still make now (the
	// bucket), refilled since budgetAt; lastIssued is when the last token
	// was issued, lastLife how long it lived.
	budget     float64
	budgetAt   time.Time
	lastIssued time.Time
	lastLife   time.Duration
	requests   int
}

// The floor that protects the OAuth service (which rate-limits): a client
// may ask for TokenBurst tokens at once, then for one more every
// TokenInterval (a token bucket). Renewing on expiry and once on 401 stays
// well within it (a token lives 25 minutes to 12 hours); tokens that keep
// dying (a tiny expires_in, or refused with 401 soon after they were
// issued) empty the bucket, and the client then fails instead of asking
// for a token a page.
const (
	TokenBurst    = 10
	TokenInterval = time.Minute
)

// maxLifetime caps a token's expires_in: a larger value (or one that
// overflows a time.Duration) is read as this.
const maxLifetime = 24 * time.Hour

// issued returns the tokens issued so far.
func (t *tokenSource) issued() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.all)
}

// Token returns the current access token, fetching a new one when there is
// none or the current one is about to expire.
func (t *tokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.renewAt) {
		return t.token, nil
	}
	if t.failed != nil {
		return "", t.failed
	}
	if !t.lastIssued.IsZero() {
		t.lastLife = t.now().Sub(t.lastIssued)
	}
	var last error
	started := t.now()
	attempt := 0
	for ; attempt < tokenAttempts; attempt++ {
		if attempt > 0 {
			d := t.delay(attempt)
			if ra := retryAfterOf(last); ra > d {
				d = ra
			}
			if t.maxElapsed > 0 && max(d, askedRetryAfter(last)) > t.maxElapsed-t.now().Sub(started) {
				if asked := askedRetryAfter(last); asked > 0 {
					last = errclass.Mark(errclass.Retryable, fmt.Errorf("%w: the token endpoint asks to wait %s (Retry-After), more than retry.max_elapsed (%s) leaves", last, asked, t.maxElapsed))
				}
				break // retry.max_elapsed would pass before the next try
			}
			if err := t.sleep(ctx, d); err != nil {
				return "", err
			}
		}
		if err := t.spend(); err != nil {
			t.failed = err
			return "", err
		}
		tok, err := t.fetch(ctx)
		if err == nil {
			t.token, t.renewAt, t.lastIssued = tok.value, tok.renewAt, t.now()
			t.all = append(t.all, tok.value)
			if len(t.all) > 32 {
				t.all = t.all[1:]
			}
			return t.token, nil
		}
		last = err
		if ctx.Err() != nil {
			return "", last
		}
		if errclass.Classify(err) != errclass.Retryable {
			attempt++
			break
		}
	}
	// This run asks no more: every later request fails at once, and the
	// next run tries again.
	if errclass.Classify(last) == errclass.Retryable {
		last = errclass.Mark(errclass.Permanent, fmt.Errorf("%w (gave up after %d tries; the OAuth service is asked at most %d times per token, the next run tries again)", last, attempt, tokenAttempts))
	}
	t.failed = last
	return "", last
}

// spend takes one token request from the budget, or fails when the
// budget is empty: the tokens keep dying.
func (t *tokenSource) spend() error {
	now := t.now()
	if t.budgetAt.IsZero() {
		t.budget = TokenBurst
	} else {
		t.budget = min(TokenBurst, t.budget+float64(now.Sub(t.budgetAt))/float64(TokenInterval))
	}
	t.budgetAt = now
	if t.budget < 1 {
		return errclass.Mark(errclass.Permanent, fmt.Errorf("get token: the access tokens keep dying (the last lived %s: a tiny expires_in, or refused with 401 soon after it was issued), and %d have been asked for; a client asks for at most %d tokens at once and then one every %s, to spare the OAuth service, which rate-limits: check the API client and its token endpoint; the next run tries again",
			t.lastLife.Round(time.Millisecond), t.requests, TokenBurst, TokenInterval))
	}
	t.budget--
	t.requests++
	return nil
}

// Invalidate drops token if it is still the current one, so the next Token
// call issues a fresh one. Workers that saw the same 401 renew only once.
func (t *tokenSource) Invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == token {
		t.token = ""
	}
}

type issuedToken struct {
	value   string
	renewAt time.Time
}

func (t *tokenSource) fetch(ctx context.Context) (issuedToken, error) {
	start := t.now()
	tok, err := t.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.httpc))
	if err != nil {
		return issuedToken{}, classifyTokenError(err, t.scrub, t.now(), t.refusedHint)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return issuedToken{}, errclass.Mark(errclass.Permanent, fmt.Errorf("get token: token_type %q is not Bearer", t.scrub(Shorten(tok.TokenType, 40))))
	}
	if !validTokenValue(tok.AccessToken) {
		return issuedToken{}, errclass.Mark(errclass.Permanent, errors.New("get token: the access_token holds characters an HTTP header cannot carry (spaces, control characters or line breaks); the token endpoint is misbehaving"))
	}
	var expiresIn float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		expiresIn = v
	case string:
		return issuedToken{}, errclass.Mark(errclass.Permanent, fmt.Errorf("get token: expires_in is the string %q, not a number of seconds (RFC 6749 section 5.1); the token endpoint is misbehaving", t.scrub(Shorten(v, 40))))
	case nil:
		return issuedToken{}, errclass.Mark(errclass.Permanent, errors.New("get token: the response has no expires_in"))
	default:
		return issuedToken{}, errclass.Mark(errclass.Permanent, fmt.Errorf("get token: expires_in is a %T, not a number of seconds", v))
	}
	if !(expiresIn > 0) {
		return issuedToken{}, errclass.Mark(errclass.Permanent, fmt.Errorf("get token: expires_in %v is not a positive number of seconds", expiresIn))
	}
	life := maxLifetime
	if expiresIn < maxLifetime.Seconds() {
		life = time.Duration(expiresIn * float64(time.Second))
	}
	// Renew a minute early, or a tenth of the lifetime for short-lived tokens.
	early := min(time.Minute, life/10)
	return issuedToken{value: tok.AccessToken, renewAt: start.Add(life - early)}, nil
}

// validTokenValue: a bearer token travels in a header, as visible ASCII
// without spaces (RFC 6750 allows less still).
func validTokenValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}

// ErrCredentialsRefused is wrapped by the error of a token request the
// OAuth endpoint refused (HTTP 401, 403, or 400 invalid_client).
var ErrCredentialsRefused = errors.New("the OAuth endpoint refused the client credentials")

func classifyTokenError(err error, scrub func(string) string, now time.Time, refusedHint string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		code := re.Response.StatusCode
		detail := ""
		if re.ErrorCode != "" {
			detail = " (" + scrub(Shorten(re.ErrorCode, 100))
			if re.ErrorDescription != "" {
				detail += ": " + scrub(Shorten(re.ErrorDescription, 300))
			}
			detail += ")"
		}
		switch {
		case code == http.StatusUnauthorized || code == http.StatusForbidden || (code == http.StatusBadRequest && re.ErrorCode == "invalid_client"):
			return errclass.Mark(errclass.Auth, fmt.Errorf("get token: %w (HTTP %d%s)%s", ErrCredentialsRefused, code, detail, hintSuffix(refusedHint)))
		case code == http.StatusTooManyRequests || code >= 500:
			return newRetryAfterError(re.Response.Header.Get("Retry-After"), now, false,
				errclass.Mark(errclass.Retryable, fmt.Errorf("get token: HTTP %d%s", code, detail)))
		default:
			return errclass.Mark(errclass.Permanent, fmt.Errorf("get token: HTTP %d%s", code, detail))
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("get token: %w", err)
	}
	// x/oauth2 reports a 2xx response without access_token as a plain error.
	if strings.Contains(err.Error(), "missing access_token") {
		return errclass.Mark(errclass.Permanent, errors.New("get token: the response has no access_token"))
	}
	// Connection refused, DNS, TLS, timeouts, a body that is not JSON: worth
	// another try. The text may quote the response: scrubbed and shortened.
	return errclass.Mark(errclass.Retryable, &scrubbedError{msg: "get token: " + scrub(Shorten(err.Error(), 300)), err: err})
}

func hintSuffix(h string) string {
	if h == "" {
		return ""
	}
	return "; " + h
}
