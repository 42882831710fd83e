// Package odata is the source side of the exporter: a client of the SAP BTP
// Neo Audit Log Retrieval API (OData v4). It gets and renews the OAuth token,
// builds the window query, follows @odata.nextLink pages, decodes and
// normalizes records, and retries what is worth retrying.
package odata

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
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
	MaxPageBytes         int64         // largest response body accepted; default DefaultMaxPageBytes

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

	// BigPages is the run's gate for pages larger than
	// source.BigPageBytes, shared by every source; nil admits all at once.
	BigPages *source.PageGate

	// InitialBackoff is the first retry delay (default 500ms); tests shorten it.
	InitialBackoff time.Duration
	// Sleep waits between retries; nil means a real, cancellable sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for token expiry; nil means time.Now.
	Now func() time.Time
	// Transport overrides the HTTP transport (tests inject faults with it).
	Transport http.RoundTripper
}

// DefaultMaxPageBytes caps one response body: 16 MiB, about 27 times a
// page of the documented 1,000 records. It also bounds what a hostile page
// costs in memory (about 2.5 times this per window in flight; README).
const DefaultMaxPageBytes = 16 << 20

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
	api          *apiclient.Client // token, retries, request rate, scrubbing
	log          zerolog.Logger

	seed   maphash.Seed // for record content and nextLink hashes
	dedupe source.DedupeConfig

	warnUncounted sync.Once // "no @odata.count" is said once per run
	// warnForeignLink: "a nextLink points elsewhere" is said once per run.
	warnForeignLink sync.Once

	retentionOnce sync.Once
	retention     time.Duration
	retentionFrom string
}

var _ source.Source = (*Client)(nil)

// New validates cfg and builds a Client. It does no I/O.
func New(cfg Config, log zerolog.Logger) (*Client, error) {
	base, err := ParseAPIURL(cfg.APIURL)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, err)
	}
	if cfg.Account == "" {
		return nil, errclass.Mark(errclass.Config, errors.New("account is required"))
	}
	if cfg.MaxPagesPerWindow <= 0 {
		cfg.MaxPagesPerWindow = DefaultMaxPagesPerWindow
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
	api, err := apiclient.New(apiclient.Config{
		Token: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     strings.TrimSuffix(base.String(), "/") + tokenPath,
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		RefusedHint: "check source.client_id and source.client_secret, and that the API client has the scope \"Read Audit Logs\"",
		Secrets:     apiclient.SecretsOf(cfg.ClientID, cfg.ClientSecret),
		Message:     odataMessage,
		Hint:        func(code int) string { return statusHint(code, cfg.Account) },
		Timeout:     cfg.Timeout, MaxRequestsPerSecond: cfg.MaxRequestsPerSecond, MaxElapsed: cfg.MaxElapsed, CAFile: cfg.CAFile,
		MaxBodyBytes: cfg.MaxPageBytes, InitialBackoff: cfg.InitialBackoff, Sleep: cfg.Sleep, Now: cfg.Now, Transport: cfg.Transport,
	}, log)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:          cfg,
		base:         base,
		recordsURL:   recordsURL,
		retentionURL: retentionURL,
		api:          api,
		log:          log,
		seed:         maphash.MakeSeed(),
	}
	c.dedupe = cfg.Dedupe
	c.dedupe.Seed = c.seed
	return c, nil
}

// tokenPath is the platform API's OAuth endpoint; grant_type travels in the
// query as the documentation shows (x/oauth2 also sends it in the body).
const tokenPath = "/oauth2/apitoken/v1?grant_type=client_credentials"

// statusHint says what to check after an answer with status code.
func statusHint(code int, account string) string {
	switch code {
	case http.StatusUnauthorized:
		return "the API rejected a freshly issued token: check that the API client has the scope \"Read Audit Logs\""
	case http.StatusForbidden:
		return fmt.Sprintf("the API client may not read audit logs of account %q: check the account's technical name and the client's scope \"Read Audit Logs\"", account)
	case http.StatusNotFound:
		return "check source.api_url (region host) and source.account (the technical name, not the display name)"
	}
	return ""
}

// ParseAPIURL checks an API base URL: absolute, https (http only for a
// loopback host: credentials travel in a Basic header), no query or fragment.
func ParseAPIURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("api_url is required (https://api.<region host>)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("api_url %s: not a URL", apiclient.ShowURL(s))
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("api_url %s: want an absolute URL like https://api.hana.ondemand.com", apiclient.ShowURL(s))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api_url %s: must not contain credentials, a query or a fragment", apiclient.ShowURL(s))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("api_url %s: http:// is only allowed for a loopback host (credentials would travel unencrypted); use https://", apiclient.ShowURL(s))
		}
	default:
		return nil, fmt.Errorf("api_url %s: scheme must be https", apiclient.ShowURL(s))
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

// Token obtains (or reuses) the access token; a run gets it first, to fail
// early on refused credentials.
func (c *Client) Token(ctx context.Context) error { return c.api.Token(ctx) }

// IssuedTokens are the tokens issued so far (tests prove none is printed).
func (c *Client) IssuedTokens() []string { return c.api.IssuedTokens() }

// getPage GETs u (with retries, the request rate, token renewal) and
// decodes the body into p.
// A big page (source.BigPageBytes) waits for pass, the run's gate for big
// pages; whitespace padding is squeezed out before decoding.
func (c *Client) getPage(ctx context.Context, u *url.URL, dec *pageDecoder, p *Page, st *source.Stats, pass *source.PagePass) error {
	return c.api.Get(ctx, u, st, func(_ http.Header, status int, body io.Reader) error {
		if status != http.StatusOK {
			return errclass.Mark(errclass.Permanent, fmt.Errorf("HTTP %d without a body: want 200 and a page", status))
		}
		return dec.Decode(source.SqueezeWhitespace(pass.Reader(body)), p)
	})
}

// Scrub implements source.Source.
func (c *Client) Scrub(s string) string { return c.api.Scrub(s) }

// scrub and scrubErr clean server-supplied text of credentials and tokens.
func (c *Client) scrub(s string) string    { return c.api.Scrub(s) }
func (c *Client) scrubErr(err error) error { return c.api.ScrubErr(err) }
func shorten(s string, n int) string       { return apiclient.Shorten(s, n) }

// Probe fetches at most one record, with the count of all the account's
// records, to prove the credentials may read the account's audit log.
func (c *Client) Probe(ctx context.Context) (count int64, err error) {
	u := *c.recordsURL
	u.RawQuery = "$top=1&$count=true"
	var p Page
	if err := c.getPage(ctx, &u, newPageDecoder(), &p, &source.Stats{}, nil); err != nil {
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
	if err := c.getPage(ctx, &u, newPageDecoder(), &p, &source.Stats{}, nil); err != nil {
		return 0, c.scrubErr(fmt.Errorf("count window %s: %w", w, err))
	}
	if !p.HasCount {
		return -1, nil
	}
	return p.Count, nil
}

// RequestRate is the allowed request rate now (requests per second).
func (c *Client) RequestRate() float64 { return c.api.Rate() }
