package cfaudit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Config configures a Client for one subaccount (plan default) or global
// account (plan central).
type Config struct {
	// Account is the configured name: output paths and the account
	// column (Cloud Foundry records carry none).
	Account string
	// Key holds the API URL and the XSUAA credentials (a service key, or
	// the same fields given one by one).
	Key ServiceKey

	Timeout              time.Duration // per HTTP request; default 60s
	MaxRequestsPerSecond float64       // ceiling on the adaptive rate; 0 = none
	MaxElapsed           time.Duration // give up on one request after this long; default 10m
	CAFile               string        // extra PEM CA bundle
	MaxPageBytes         int64         // largest response body accepted; default apiclient.DefaultMaxBodyBytes
	// Dedupe sizes each window's duplicate check (see source.Deduper).
	Dedupe source.DedupeConfig
	// RetentionDays is how long the API keeps records; 0 = the documented
	// 90 days.
	RetentionDays int
	// MaxPagesPerWindow bounds one window's listing; default
	// DefaultMaxPagesPerWindow.
	MaxPagesPerWindow int
	// BigPages is the run's gate for pages larger than
	// source.BigPageBytes, shared by every source; nil admits all at once.
	BigPages *source.PageGate

	InitialBackoff time.Duration                                    // first retry delay (default 500ms)
	Sleep          func(ctx context.Context, d time.Duration) error // nil: a real sleep
	Now            func() time.Time                                 // nil: time.Now
	Transport      http.RoundTripper                                // tests inject faults with it
}

// DefaultRetention is the documented retention: 90 days.
const DefaultRetention = 90 * 24 * time.Hour

// DefaultMaxPagesPerWindow bounds one window's listing: 50 million records
// at the documented 500 a page.
const DefaultMaxPagesPerWindow = 100_000

// FilterPadding widens time_from and time_to on both sides of a window
// (whole seconds, boundary semantics undocumented); membership is decided
// on each record's own time.
const FilterPadding = 2 * time.Second

// maxEmptyPages is how many pages in a row may hold no record while still
// handing out a paging handle.
const maxEmptyPages = 3

// RecordsPath is the API's records collection.
const RecordsPath = "/auditlog/v2/auditlogrecords"

// Client reads one account's audit log from the Cloud Foundry API. Safe for
// concurrent use: every worker and window shares one token and one request
// rate.
type Client struct {
	cfg     Config
	records *url.URL
	api     *apiclient.Client
	log     zerolog.Logger
	dedupe  source.DedupeConfig
	seed    maphash.Seed
}

var _ source.Source = (*Client)(nil)

// New validates cfg and builds a Client; an x509 key's certificate and key
// are parsed now (a configuration error if they do not match).
func New(cfg Config, log zerolog.Logger) (*Client, error) {
	if cfg.Account == "" {
		return nil, errclass.Mark(errclass.Config, errors.New("account is required"))
	}
	if cfg.MaxPagesPerWindow <= 0 {
		cfg.MaxPagesPerWindow = DefaultMaxPagesPerWindow
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.Key.URL, "/"))
	if err != nil || base.Host == "" {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("api_url %s is not an absolute URL", apiclient.ShowURL(cfg.Key.URL)))
	}
	records := *base
	records.Path = strings.TrimSuffix(base.Path, "/") + RecordsPath
	records.RawPath = ""

	k := cfg.Key.UAA
	tokenCfg := clientcredentials.Config{ClientID: k.ClientID}
	var tokenHTTP *http.Client
	if cfg.Key.X509() {
		cert, err := tls.X509KeyPair([]byte(k.Certificate), []byte(k.Key))
		if err != nil {
			return nil, errclass.Mark(errclass.Config, fmt.Errorf("the x509 key's certificate and private key do not form a pair: %s", certErrorText(err)))
		}
		t, err := apiclient.NewTransport(cfg.CAFile, timeoutOr(cfg.Timeout), &cert)
		if err != nil {
			return nil, err
		}
		if cfg.Transport != nil {
			// Tests: their transport, with the client certificate added
			// when it is an *http.Transport.
			if ht, ok := cfg.Transport.(*http.Transport); ok {
				ht = ht.Clone()
				if ht.TLSClientConfig == nil {
					ht.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
				}
				ht.TLSClientConfig.Certificates = []tls.Certificate{cert}
				t = ht
			}
		}
		tokenHTTP = &http.Client{Transport: t, Timeout: timeoutOr(cfg.Timeout),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		// Mutual TLS proves the client; the id travels in the form.
		tokenCfg.TokenURL = TokenEndpoint(k.CertURL)
		tokenCfg.AuthStyle = oauth2.AuthStyleInParams
	} else {
		tokenCfg.ClientSecret = k.ClientSecret
		tokenCfg.TokenURL = TokenEndpoint(k.URL)
		tokenCfg.AuthStyle = oauth2.AuthStyleInHeader
	}
	secrets := apiclient.SecretsOf(k.ClientID, k.ClientSecret)
	if k.Key != "" {
		secrets = append(secrets, k.Key)
	}
	api, err := apiclient.New(apiclient.Config{
		Token: tokenCfg, TokenHTTP: tokenHTTP, Secrets: secrets,
		RefusedHint: "check the service key (source.service_key_file, or client_id with client_secret or cert_file and key_file): it may have been deleted, or its certificate expired",
		Message:     errorMessage,
		Hint:        func(code int) string { return statusHint(code) },
		Timeout:     cfg.Timeout, MaxRequestsPerSecond: cfg.MaxRequestsPerSecond, MaxElapsed: cfg.MaxElapsed, CAFile: cfg.CAFile,
		MaxBodyBytes: cfg.MaxPageBytes, InitialBackoff: cfg.InitialBackoff, Sleep: cfg.Sleep, Now: cfg.Now, Transport: cfg.Transport,
	}, log)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, records: &records, api: api, log: log, seed: maphash.MakeSeed()}
	c.dedupe = cfg.Dedupe
	c.dedupe.Seed = c.seed
	return c, nil
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return 60 * time.Second
	}
	return d
}

// certErrorText keeps a key-pair error free of key material.
func certErrorText(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "PRIVATE KEY") || len(msg) > 200 {
		return "not a PEM certificate and matching private key"
	}
	return msg
}

// statusHint says what to check after an answer with status code.
func statusHint(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "the API rejected a freshly issued token: check that the service key belongs to an auditlog-management instance"
	case http.StatusForbidden:
		return "the token may not read audit logs: check the service instance's plan (default for a subaccount, central for a global account) and the key"
	case http.StatusNotFound:
		return "check the service key's url (the auditlog-management API of your region)"
	case http.StatusNotImplemented:
		return "this landscape does not support the request (a category filter answers 501 on some)"
	}
	return ""
}

// errorMessage extracts the API's message from an error body
// ({"error": ..., "error_description": ...} or {"message": ...}), or a
// short prefix of it.
func errorMessage(body []byte) string {
	var e struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if jsonUnmarshal(body, &e) == nil {
		parts := []string{}
		if s, ok := e.Error.(string); ok && s != "" {
			parts = append(parts, s)
		}
		for _, s := range []string{e.Description, e.Message} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			return apiclient.Shorten(strings.Join(parts, ": "), 500)
		}
	}
	return apiclient.Shorten(strings.TrimSpace(string(body)), 200)
}

// Scrub implements source.Source.
func (c *Client) Scrub(s string) string { return c.api.Scrub(s) }

// Token obtains (or reuses) the access token.
func (c *Client) Token(ctx context.Context) error { return c.api.Token(ctx) }

// IssuedTokens are the tokens issued so far (tests prove none is printed).
func (c *Client) IssuedTokens() []string { return c.api.IssuedTokens() }

// RequestRate is the allowed request rate now (requests per second).
func (c *Client) RequestRate() float64 { return c.api.Rate() }

// Retention is the configured retention, else the documented 90 days.
func (c *Client) Retention(context.Context) (time.Duration, string) {
	if c.cfg.RetentionDays > 0 {
		return time.Duration(c.cfg.RetentionDays) * 24 * time.Hour, "configured"
	}
	return DefaultRetention, "documented"
}

// Count: the API counts nothing.
func (c *Client) Count(context.Context, audit.Window) (int64, error) { return -1, nil }

// Probe reads the first page of the last hour, proving the credentials
// may read the audit log; the API counts nothing, so the result is -1.
func (c *Client) Probe(ctx context.Context) (int64, error) {
	now := c.api.Now().UTC().Truncate(time.Second)
	u := c.windowURL(now.Add(-time.Hour), now)
	var recs []audit.Record
	err := c.api.Get(ctx, u, &source.Stats{}, func(_ http.Header, status int, body io.Reader) error {
		if status == http.StatusNoContent {
			return nil
		}
		var err error
		recs, err = decodePage(body, c.cfg.Account, recs)
		return err
	})
	if err != nil {
		return 0, c.api.ScrubErr(err)
	}
	return -1, nil
}

// windowURL is the records query for [from, to), padded and in whole
// seconds.
func (c *Client) windowURL(from, to time.Time) *url.URL {
	u := *c.records
	q := url.Values{}
	q.Set("time_from", from.Add(-FilterPadding).UTC().Truncate(time.Second).Format("2006-01-02T15:04:05"))
	end := to.Add(FilterPadding).UTC()
	if t := end.Truncate(time.Second); !t.Equal(end) {
		end = t.Add(time.Second)
	}
	q.Set("time_to", end.Format("2006-01-02T15:04:05"))
	u.RawQuery = q.Encode()
	return &u
}

// Fetch streams every record of window w to emit, each message_uuid once.
// The API sends no count: the listing is followed to its end and the
// window's completeness is "uncounted" (verify re-reads it later).
func (c *Client) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	st := source.NewStats()
	l, err := c.list(ctx, w, &st, emit)
	st.Rows, st.Distinct, st.Completeness, st.Rate = l.Rows, l.Distinct, source.CompletenessUncounted, c.api.Rate()
	if err != nil {
		return st, c.api.ScrubErr(err)
	}
	if st.Conflicts > 0 {
		c.log.Warn().Str("window", w.Span()).Int("conflicts", st.Conflicts).Str("uuid", c.api.Scrub(apiclient.Shorten(l.Conflict, 100))).
			Msg("the server served a message_uuid again with different content; the first copy was exported")
	}
	return st, nil
}

// list pages through window w's padded query once, following the Paging
// handle, and refuses a listing that does not end.
func (c *Client) list(ctx context.Context, w audit.Window, st *source.Stats, emit func(*audit.Record) error) (source.Listing, error) {
	d := source.NewDeduper(c.dedupe, w, emit, st)
	defer d.Close()
	pass := c.cfg.BigPages.Pass(ctx)
	defer pass.Release()
	first := c.windowURL(w.Start, w.End)
	u := first
	seen := map[uint64]struct{}{}
	var recs []audit.Record
	for pages, empty := 1, 0; ; pages++ {
		st.Pages++
		if pages > c.cfg.MaxPagesPerWindow {
			return d.Listing(), errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: more than %d pages (source.max_pages_per_window); the server's listing does not end", w, c.cfg.MaxPagesPerWindow))
		}
		handle := ""
		pass.Release() // the last page's records are handed on
		err := c.api.Get(ctx, u, st, func(h http.Header, status int, body io.Reader) error {
			recs = recs[:0]
			if status == http.StatusNoContent {
				return nil // no records
			}
			var err error
			// A big page waits for the run's gate; padding is squeezed out.
			if recs, err = decodePage(source.SqueezeWhitespace(pass.Reader(body)), c.cfg.Account, recs); err != nil {
				return err
			}
			handle, err = ParseHandle(h.Get("Paging"))
			return err
		})
		if err != nil {
			return d.Listing(), fmt.Errorf("fetch page %d of window %s: %w", pages, w, err)
		}
		for i := range recs {
			if err := d.Add(&recs[i], -1); err != nil {
				return d.Listing(), err
			}
		}
		if handle == "" {
			break
		}
		if err := d.NextPage(); err != nil {
			return d.Listing(), errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: %w; refusing to follow (the next run tries again)", w, pages, err))
		}
		if len(recs) == 0 {
			if empty++; empty > maxEmptyPages {
				return d.Listing(), errclass.Mark(errclass.Permanent, fmt.Errorf("window %s: %d pages in a row without records still hand out a paging handle; refusing to follow", w, empty))
			}
		} else {
			empty = 0
		}
		key := maphash.String(c.seed, handle)
		if _, loop := seen[key]; loop {
			return d.Listing(), errclass.Mark(errclass.Permanent, fmt.Errorf("window %s, page %d: the paging handle repeats an earlier page's; refusing to loop", w, pages))
		}
		seen[key] = struct{}{}
		next := *first
		next.RawQuery = first.RawQuery + "&handle=" + HandleQueryValue(handle) // as received, encoded once where it must be
		u = &next
	}
	return d.Finish()
}
