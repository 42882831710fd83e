// Package odata is the source side of the exporter: a client of the SAP BTP
// Neo Audit Log Retrieval API (OData v4). It gets and renews the OAuth token,
// builds the window query, follows @odata.nextLink pages, decodes and
// normalizes records, and retries what is worth retrying.
package odata

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Config configures a Client for one subaccount.
type Config struct {
	APIURL       string // https://api.<region host>
	Account      string // technical subaccount name
	ClientID     string
	ClientSecret string
	Filter       string // extra OData filter on User/Category/Application, ANDed

	Timeout time.Duration // per HTTP request; default 60s
	// MaxRequestsPerSecond is a ceiling on the adaptive request rate,
	// shared by all users of this Client; 0 = no ceiling.
	MaxRequestsPerSecond float64
	MaxElapsed           time.Duration // give up on one request after this long; default 10m
	CAFile               string        // extra PEM CA bundle
	MaxPageBytes         int64         // largest response body accepted; default 64 MiB

	// Dedupe sizes each window's duplicate check: in memory up to its
	// SpillThreshold distinct records, then through spool files, so
	// memory stays flat whatever the window size. Decided on records
	// received, never on the server's count. Its Seed is the Client's own.
	Dedupe source.DedupeConfig

	// RetentionDays is how long the API keeps records; 0 asks the
	// Retention API, else assumes DefaultRetention.
	RetentionDays int

	// MaxPagesPerWindow bounds the pages of one window's listing (a server
	// whose nextLinks never end); default DefaultMaxPagesPerWindow.
	MaxPagesPerWindow int

	// InitialBackoff is the first retry delay (default 500ms); tests shorten it.
	InitialBackoff time.Duration
	// Sleep waits between retries; nil means a real, cancellable sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for token expiry; nil means time.Now.
	Now func() time.Time
	// Transport overrides the HTTP transport (tests inject faults with it).
	Transport http.RoundTripper
}

// DefaultMaxPageBytes caps one response body.
const DefaultMaxPageBytes = 64 << 20

// ServerPageSize is the documented server page size.
const ServerPageSize = 1000

// DefaultMaxPagesPerWindow bounds one window's listing: 100 million
// records at the documented 1000 a page.
const DefaultMaxPagesPerWindow = 100_000

// Client fetches audit records of one subaccount. Safe for concurrent use;
// all callers share one token and one request rate limit.
type Client struct {
	cfg          Config
	base         *url.URL
	recordsURL   *url.URL
	retentionURL *url.URL
	httpc        *http.Client
	tokens       *tokenSource
	rc           *source.RateController
	log          zerolog.Logger
	sleep        func(context.Context, time.Duration) error
	now          func() time.Time

	seed    maphash.Seed // for record content and nextLink hashes
	dedupe  source.DedupeConfig
	secrets []string // forms of the client secret scrubbed from server text

	warnUncounted sync.Once // "no @odata.count" is said once per run

	retentionOnce sync.Once
	retention     time.Duration
	retentionFrom string

	mu          sync.Mutex
	pausedUntil time.Time // after a 429, no request of this client before this
}

var _ source.Source = (*Client)(nil)

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

// New validates cfg and builds a Client. It does no I/O.
func New(cfg Config, log zerolog.Logger) (*Client, error) {
	base, err := ParseAPIURL(cfg.APIURL)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, err)
	}
	if cfg.Account == "" {
		return nil, errclass.Mark(errclass.Config, errors.New("account is required"))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = 10 * time.Minute
	}
	if cfg.MaxPageBytes <= 0 {
		cfg.MaxPageBytes = DefaultMaxPageBytes
	}
	if cfg.MaxPagesPerWindow <= 0 {
		cfg.MaxPagesPerWindow = DefaultMaxPagesPerWindow
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
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, errclass.Mark(errclass.Config, fmt.Errorf("ca_file: %w", err))
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errclass.Mark(errclass.Config, fmt.Errorf("ca_file %s: no PEM certificate found", cfg.CAFile))
			}
			tlsCfg.RootCAs = pool
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = tlsCfg
		t.MaxIdleConnsPerHost = 16
		t.ResponseHeaderTimeout = cfg.Timeout
		transport = t
	}
	httpc := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// Never follow redirects: the Authorization header must not travel
		// anywhere but the configured API, and the API does not redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	prefix := strings.TrimSuffix(base.EscapedPath(), "/")
	recordsURL := &url.URL{Scheme: base.Scheme, Host: base.Host}
	retentionURL := &url.URL{Scheme: base.Scheme, Host: base.Host}
	for u, p := range map[*url.URL]string{
		recordsURL:   prefix + "/auditlog/v1/accounts/" + url.PathEscape(cfg.Account) + "/AuditLogRecords",
		retentionURL: prefix + "/auditlog/v1/retention/accounts/" + url.PathEscape(cfg.Account) + "/AuditLogRetention",
	} {
		if err := setEscapedPath(u, p); err != nil {
			return nil, errclass.Mark(errclass.Config, err)
		}
	}
	c := &Client{
		cfg:          cfg,
		base:         base,
		recordsURL:   recordsURL,
		retentionURL: retentionURL,
		httpc:        httpc,
		log:          log,
		sleep:        cfg.Sleep,
		now:          cfg.Now,
		seed:         maphash.MakeSeed(),
		secrets:      secretsOf(cfg.ClientID, cfg.ClientSecret),
	}
	c.dedupe = cfg.Dedupe
	c.dedupe.Seed = c.seed
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
	c.tokens = &tokenSource{
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     strings.TrimSuffix(base.String(), "/") + tokenPath,
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		httpc:      httpc,
		now:        cfg.Now,
		sleep:      cfg.Sleep,
		delay:      func(attempt int) time.Duration { return cfg.InitialBackoff * time.Duration(1<<attempt) },
		maxElapsed: cfg.MaxElapsed,
		scrub:      func(s string) string { return scrubText(s, c.secrets) },
	}
	return c, nil
}

// ParseAPIURL checks an API base URL: absolute, https (http only for a
// loopback host: credentials travel in a Basic header), no query or fragment.
func ParseAPIURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("api_url is required (https://api.<region host>)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("api_url %q: %w", s, err)
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("api_url %q: want an absolute URL like https://api.hana.ondemand.com", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api_url %q: must not contain credentials, a query or a fragment", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("api_url %q: http:// is only allowed for a loopback host (credentials would travel unencrypted); use https://", s)
		}
	default:
		return nil, fmt.Errorf("api_url %q: scheme must be https", s)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Token obtains (or reuses) the access token; check uses it to prove the
// credentials early.
func (c *Client) Token(ctx context.Context) error {
	_, err := c.tokens.Token(ctx)
	return c.scrubErr(err)
}

// getOnce makes one request. A 401 renews the token once per page and asks
// for an immediate retry.
func (c *Client) getOnce(ctx context.Context, u *url.URL, dec *pageDecoder, p *Page, renewed *bool, st *source.Stats) error {
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
		return errclass.Mark(errclass.Retryable, fmt.Errorf("GET %s: %w", redact(u), unwrapURLError(err)))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode == http.StatusOK {
		body := &limitedReader{r: resp.Body, n: c.cfg.MaxPageBytes}
		if err := dec.Decode(body, p); err != nil {
			if body.exceeded {
				return errclass.Mark(errclass.Permanent, fmt.Errorf("GET %s: response body larger than %d bytes (max page size)", redact(u), c.cfg.MaxPageBytes))
			}
			return fmt.Errorf("GET %s: %w", redact(u), err)
		}
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	msg := c.scrub(odataMessage(body))
	text := fmt.Sprintf("GET %s: HTTP %d", redact(u), resp.StatusCode)
	if msg != "" {
		text += ": " + msg
	}
	status := &StatusError{Code: resp.StatusCode, text: text}
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		if !*renewed {
			*renewed = true
			c.tokens.Invalidate(token)
			c.log.Debug().Msg("API answered 401; renewing the access token")
			return errTokenRenewed
		}
		return errclass.Mark(errclass.Auth, fmt.Errorf("%w; the API rejected a freshly issued token: check that the API client has the scope \"Read Audit Logs\"", status))
	case code == http.StatusForbidden:
		return errclass.Mark(errclass.Auth, fmt.Errorf("%w; the API client may not read audit logs of account %q: check the account's technical name and the client's scope \"Read Audit Logs\"", status, c.cfg.Account))
	case code == http.StatusNotFound:
		return errclass.Mark(errclass.Permanent, fmt.Errorf("%w; check source.api_url (region host) and source.account (the technical name, not the display name)", status))
	case code == http.StatusTooManyRequests || code >= 500:
		// A 503 that says when to come back is throttling too.
		ra := resp.Header.Get("Retry-After")
		return &retryAfterError{after: parseRetryAfter(ra, c.now()), throttled: code == http.StatusTooManyRequests || (code == http.StatusServiceUnavailable && ra != ""),
			err: errclass.Mark(errclass.Retryable, status)}
	case code == http.StatusRequestTimeout:
		return &retryAfterError{err: errclass.Mark(errclass.Retryable, status)}
	case code >= 300 && code < 400:
		return errclass.Mark(errclass.Permanent, fmt.Errorf("%w: unexpected redirect to %q; redirects are not followed", status, c.scrub(shorten(resp.Header.Get("Location"), 200))))
	default:
		return errclass.Mark(errclass.Permanent, status)
	}
}

// StatusError is an API answer other than 200 OK; the text names the
// request (credentials redacted), the status and the OData error message.
type StatusError struct {
	Code int
	text string
}

func (e *StatusError) Error() string { return e.text }

// errTokenRenewed asks getPage to repeat the request at once with a new token.
var errTokenRenewed = errors.New("access token renewed after 401")

// redact renders a request URL for messages: path and query only, the
// query unescaped for readability.
func redact(u *url.URL) string {
	q, err := url.QueryUnescape(u.RawQuery)
	if err != nil {
		q = u.RawQuery
	}
	if q == "" {
		return u.EscapedPath()
	}
	return u.EscapedPath() + "?" + shorten(q, 400)
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

// Probe fetches at most one record, with the count of all the account's
// records, to prove the credentials may read the account's audit log.
func (c *Client) Probe(ctx context.Context) (count int64, err error) {
	u := *c.recordsURL
	u.RawQuery = "$top=1&$count=true"
	var p Page
	if err := c.getPage(ctx, &u, newPageDecoder(), &p, &source.Stats{}); err != nil {
		return 0, c.scrubErr(err)
	}
	if p.HasCount {
		return p.Count, nil
	}
	return int64(len(p.Records)), nil
}

// Count returns the API's @odata.count for window w's padded query (the
// same query an export sends), without fetching records.
func (c *Client) Count(ctx context.Context, w audit.Window) (int64, error) {
	u := *c.recordsURL
	u.RawQuery = "$filter=" + queryEscape(WindowFilter(w.Start, w.End, c.cfg.Filter)) + "&$top=0&$count=true"
	var p Page
	if err := c.getPage(ctx, &u, newPageDecoder(), &p, &source.Stats{}); err != nil {
		return 0, c.scrubErr(fmt.Errorf("count window %s: %w", w, err))
	}
	if !p.HasCount {
		return -1, nil
	}
	return p.Count, nil
}

// round1 rounds a rate for a log line.
func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// RequestRate is the allowed request rate now (requests per second).
func (c *Client) RequestRate() float64 { return c.rc.Rate() }
