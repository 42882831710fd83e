// Package apiclient is the HTTP side every source shares: one OAuth token
// per client (client credentials, reused, renewed before expiry and once
// on 401, each issuing tried at most three times, within a budget of
// TokenBurst requests then one every TokenInterval), GET requests with the
// adaptive request rate, capped and jittered backoff that honours
// Retry-After (failing at once when it outlasts retry.max_elapsed), typed
// retry causes, bodies bounded in size, no redirects,
// and every server-supplied text scrubbed of credentials and tokens before
// it reaches an error or a log. A source (Neo, Cloud Foundry) builds its
// URLs and decodes its bodies; this package does the rest.
package apiclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2/clientcredentials"
)

// Config configures a Client.
type Config struct {
	// Token is how access tokens are issued. TokenHTTP, if set, is the
	// HTTP client for the token endpoint (one presenting a client
	// certificate for x509 credentials); nil uses the API's.
	Token     clientcredentials.Config
	TokenHTTP *http.Client
	// RefusedHint says what to check when the token endpoint refuses the
	// credentials ("check source.client_id and ...").
	RefusedHint string
	// Secrets are the forms of the credentials to scrub from server text
	// (see SecretsOf).
	Secrets []string

	// Message extracts the API's own error message from an error body;
	// nil shows a short prefix of the body.
	Message func(body []byte) string
	// Hint says what to check after an answer with this status (401 with
	// a fresh token, 403, 404); "" for none.
	Hint func(code int) string

	Timeout time.Duration // per HTTP request; default 60s
	// MaxRequestsPerSecond is a ceiling on the adaptive request rate; 0 =
	// no ceiling.
	MaxRequestsPerSecond float64
	MaxElapsed           time.Duration // give up on one request after this long; default 10m
	CAFile               string        // extra PEM CA bundle
	MaxBodyBytes         int64         // largest response body accepted; default DefaultMaxBodyBytes

	// InitialBackoff is the first retry delay (default 500ms); tests shorten it.
	InitialBackoff time.Duration
	// Sleep waits between retries; nil means a real, cancellable sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Transport overrides the HTTP transport (tests inject faults with it).
	Transport http.RoundTripper
}

// DefaultMaxBodyBytes caps one response body (source.max_page_bytes'
// default).
const DefaultMaxBodyBytes = 16 << 20

// Client makes a source's requests. Safe for concurrent use; every worker
// and window of one account shares it (one token, one request rate).
type Client struct {
	cfg     Config
	httpc   *http.Client
	tokens  *tokenSource
	rc      *source.RateController
	log     zerolog.Logger
	sleep   func(context.Context, time.Duration) error
	now     func() time.Time
	secrets []string

	mu          sync.Mutex
	pausedUntil time.Time // after a 429 with Retry-After, no request before this
}

// New validates cfg and builds a Client. It does no I/O but reading
// CAFile.
func New(cfg Config, log zerolog.Logger) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = 10 * time.Minute
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 500 * time.Millisecond
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	transport := cfg.Transport
	if transport == nil {
		t, err := NewTransport(cfg.CAFile, cfg.Timeout, nil)
		if err != nil {
			return nil, err
		}
		transport = t
	}
	httpc := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// Never follow redirects: the Authorization header must not travel
		// anywhere but the configured API, and the API does not redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &Client{cfg: cfg, httpc: httpc, log: log, sleep: cfg.Sleep, now: cfg.Now, secrets: cfg.Secrets}
	var lastCutLog time.Time
	c.rc = source.NewRateController(cfg.MaxRequestsPerSecond, cfg.Now, func(ev source.RateEvent) {
		// Called with the controller's lock held: log only.
		switch ev.Kind {
		case "cut":
			lvl := zerolog.DebugLevel
			if now := cfg.Now(); lastCutLog.IsZero() || now.Sub(lastCutLog) >= 30*time.Second {
				lastCutLog, lvl = now, zerolog.InfoLevel
			}
			log.WithLevel(lvl).Float64("from_rps", round1(ev.From)).Float64("to_rps", round1(ev.To)).Msg("the API throttles: request rate cut")
		case "settled":
			log.Info().Float64("rps", round1(ev.To)).Msg("request rate settled")
		}
	})
	tokenHTTP := cfg.TokenHTTP
	if tokenHTTP == nil {
		tokenHTTP = httpc
	}
	c.tokens = &tokenSource{
		cc:          cfg.Token,
		httpc:       tokenHTTP,
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		delay:       func(attempt int) time.Duration { return cfg.InitialBackoff * time.Duration(1<<attempt) },
		maxElapsed:  cfg.MaxElapsed,
		scrub:       func(s string) string { return scrubText(s, c.secrets) },
		refusedHint: cfg.RefusedHint,
	}
	return c, nil
}

// maxCAFileBytes bounds ca_file (a large corporate bundle is ~250 KiB).
const maxCAFileBytes = 8 << 20

// NewTransport is an HTTP transport with TLS 1.2 or later, the system's
// CA bundle plus caFile, a response header timeout, and cert as the client
// certificate when set (mutual TLS).
func NewTransport(caFile string, timeout time.Duration, cert *tls.Certificate) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := safefile.ReadFile(caFile, maxCAFileBytes)
		if err != nil {
			return nil, errclass.Mark(errclass.Config, fmt.Errorf("ca_file: %w", err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errclass.Mark(errclass.Config, fmt.Errorf("ca_file %s: no PEM certificate found", caFile))
		}
		tlsCfg.RootCAs = pool
	}
	if cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsCfg
	t.MaxIdleConnsPerHost = 16
	t.ResponseHeaderTimeout = timeout
	return t, nil
}

// Token obtains (or reuses) the access token; a run gets it first, to
// fail early on credentials the token endpoint refuses.
func (c *Client) Token(ctx context.Context) error {
	_, err := c.tokens.Token(ctx)
	return c.ScrubErr(err)
}

// IssuedTokens are the tokens issued so far (the latest few), for tests
// that prove none of them reaches an output.
func (c *Client) IssuedTokens() []string { return c.tokens.issued() }

// Rate is the allowed request rate now (requests per second); 0 while the
// API never throttled.
func (c *Client) Rate() float64 { return c.rc.Rate() }

// Now is the client's clock.
func (c *Client) Now() time.Time { return c.now() }

// pauseAll holds every request of this client for d.
func (c *Client) pauseAll(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := c.now().Add(d); until.After(c.pausedUntil) {
		c.pausedUntil = until
	}
}

// pausedFor is how long a request must still wait after a 429.
func (c *Client) pausedFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pausedUntil.Sub(c.now())
}

// getOnce makes one request. A 401 renews the token once per request and
// asks for an immediate retry.
func (c *Client) getOnce(ctx context.Context, u *url.URL, read func(http.Header, int, io.Reader) error, renewed *bool) error {
	token, err := c.tokens.Token(ctx)
	if err != nil {
		return source.WithCause(source.CauseTokenEndpoint, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return errclass.Mark(errclass.Permanent, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errclass.Mark(errclass.Retryable, fmt.Errorf("GET %s: %w", Redact(u), unwrapURLError(err)))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
		var body io.Reader = http.NoBody
		if resp.StatusCode == http.StatusOK {
			body = &limitedReader{r: resp.Body, n: c.cfg.MaxBodyBytes}
		}
		if err := read(resp.Header, resp.StatusCode, body); err != nil {
			if lr, ok := body.(*limitedReader); ok && lr.exceeded {
				return errclass.Mark(errclass.Permanent, fmt.Errorf("GET %s: response body larger than %d bytes (max page size)", Redact(u), c.cfg.MaxBodyBytes))
			}
			return fmt.Errorf("GET %s: %w", Redact(u), err)
		}
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	msg := ""
	if c.cfg.Message != nil {
		msg = c.cfg.Message(body)
	} else {
		msg = Shorten(string(body), 200)
	}
	text := fmt.Sprintf("GET %s: HTTP %d", Redact(u), resp.StatusCode)
	if msg = c.Scrub(msg); msg != "" {
		// An error body that starts with the status code says it twice.
		text += ": " + strings.TrimPrefix(msg, strconv.Itoa(resp.StatusCode)+": ")
	}
	status := &StatusError{Code: resp.StatusCode, text: text}
	hint := ""
	if c.cfg.Hint != nil {
		hint = c.cfg.Hint(resp.StatusCode)
	}
	withHint := func(class errclass.Class) error {
		if hint == "" {
			return errclass.Mark(class, status)
		}
		return errclass.Mark(class, fmt.Errorf("%w; %s", status, hint))
	}
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		if !*renewed {
			*renewed = true
			c.tokens.Invalidate(token)
			c.log.Debug().Msg("API answered 401; renewing the access token")
			return errTokenRenewed
		}
		return withHint(errclass.Auth)
	case code == http.StatusForbidden:
		return withHint(errclass.Auth)
	case code == http.StatusTooManyRequests || code >= 500:
		// A 503 that says when to come back is throttling too.
		ra := resp.Header.Get("Retry-After")
		return newRetryAfterError(ra, c.now(), code == http.StatusTooManyRequests || (code == http.StatusServiceUnavailable && ra != ""),
			errclass.Mark(errclass.Retryable, status))
	case code == http.StatusRequestTimeout:
		return &retryAfterError{err: errclass.Mark(errclass.Retryable, status)}
	case code >= 300 && code < 400:
		return errclass.Mark(errclass.Permanent, fmt.Errorf("%w: unexpected redirect to %q; redirects are not followed", status, c.Scrub(Shorten(resp.Header.Get("Location"), 200))))
	default:
		return withHint(errclass.Permanent)
	}
}

// Try makes one request, without retries or token renewal (a question
// whose answer is optional, like Neo's Retention API): an error is
// returned as it comes. It goes through the adaptive request rate like any
// other: it takes a token of the API's limit too.
func (c *Client) Try(ctx context.Context, u *url.URL, read func(h http.Header, status int, body io.Reader) error) error {
	if _, err := c.admit(ctx, &source.Stats{}); err != nil {
		return err
	}
	sent := c.now()
	noRenewal := true
	err := c.getOnce(ctx, u, read, &noRenewal)
	c.settle(sent, err)
	return c.ScrubErr(err)
}

// settle tells the request rate how a request sent at sent ended.
func (c *Client) settle(sent time.Time, err error) {
	switch {
	case err == nil:
		c.rc.OnSuccess(sent)
	case throttled(err):
		c.rc.OnThrottle(sent)
	default:
		c.rc.OnFailure()
	}
}

// StatusError is an API answer other than 200 OK; the text names the
// request (credentials redacted), the status and the API's error message.
type StatusError struct {
	Code int
	text string
}

func (e *StatusError) Error() string { return e.text }

// errTokenRenewed asks Get to repeat the request at once with a new token.
var errTokenRenewed = errors.New("access token renewed after 401")

// Redact renders a request URL for messages: path and query only, the
// query unescaped for readability.
func Redact(u *url.URL) string {
	q, err := url.QueryUnescape(u.RawQuery)
	if err != nil {
		q = u.RawQuery
	}
	if q == "" {
		return u.EscapedPath()
	}
	return u.EscapedPath() + "?" + Shorten(q, 400)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// limitedReader reads at most n bytes and records whether the body was longer.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.exceeded = true
			return 0, errors.New("body exceeds the page size limit")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// Shorten keeps at most n bytes of s, never cutting a character in two.
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// round1 rounds a rate for a log line.
func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
