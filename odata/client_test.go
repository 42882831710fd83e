package odata_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/testtool"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/rs/zerolog"
)

const (
	account  = "abc123xyz"
	clientID = "test-client"
	// The secret and tokens must never show up in logs or errors.
	clientSecret = "s3cr3t-Value-For-Tests"
)

var winStart = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

type fixture struct {
	sim  *neosim.Server
	srv  *httptest.Server
	logs *bytes.Buffer
	win  audit.Window
}

// newFixture serves a simulator with records from 09:00 to 12:00 (the
// window under test is 10:00-11:00), plus records exactly on and around
// the window boundaries.
func newFixture(t *testing.T, perHour int, opts neosim.Options) *fixture {
	t.Helper()
	opts.Accounts = []string{account}
	opts.ClientID, opts.ClientSecret = clientID, clientSecret
	if opts.Seed == 0 {
		opts.Seed = 7
	}
	sim := neosim.New(opts)
	recs, _ := neosim.Generate(neosim.GenOptions{Account: account, From: winStart.Add(-time.Hour), To: winStart.Add(2 * time.Hour), PerHour: perHour, Seed: 3})
	sim.Add(nil, recs...)
	for i, at := range []time.Time{winStart, winStart.Add(-time.Millisecond), winStart.Add(time.Hour - time.Millisecond), winStart.Add(time.Hour), winStart.Add(500 * time.Millisecond), winStart.Add(time.Hour + 999*time.Millisecond)} {
		sim.Add(nil, audit.Record{UUID: fmt.Sprintf("edge-%d", i), Time: at, Account: account, Category: "audit.configuration", FormatVersion: "2.2"})
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{sim: sim, srv: srv, logs: &bytes.Buffer{}, win: audit.Window{Account: account, Start: winStart, End: winStart.Add(time.Hour)}}
}

func (f *fixture) config() odata.Config {
	return odata.Config{
		APIURL: f.srv.URL, Account: account, ClientID: clientID, ClientSecret: clientSecret,
		InitialBackoff: time.Millisecond, MaxElapsed: 30 * time.Second, Timeout: 5 * time.Second,
	}
}

func (f *fixture) client(t *testing.T, cfg odata.Config) *odata.Client {
	t.Helper()
	var mu sync.Mutex
	w := zerolog.SyncWriter(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return f.logs.Write(p) }))
	c, err := odata.New(cfg, zerolog.New(w).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func (f *fixture) fetch(t *testing.T, c *odata.Client) ([]audit.Record, source.Stats, error) {
	t.Helper()
	var got []audit.Record
	st, err := c.Fetch(context.Background(), f.win, func(r *audit.Record) error {
		got = append(got, *r)
		return nil
	})
	return got, st, err
}

// assertExact checks got holds each record of the window exactly once, with
// every field intact.
func (f *fixture) assertExact(t *testing.T, got []audit.Record) {
	t.Helper()
	want := f.sim.Records(account, f.win.Start, f.win.End)
	if len(want) < 100 {
		t.Fatalf("fixture too small: %d records", len(want))
	}
	byID := map[string]audit.Record{}
	for _, r := range got {
		if _, dup := byID[r.UUID]; dup {
			t.Fatalf("record %s delivered twice", r.UUID)
		}
		byID[r.UUID] = r
	}
	for _, w := range want {
		g, ok := byID[w.UUID]
		if !ok {
			t.Fatalf("record %s (%s) missing; got %d of %d", w.UUID, w.Time, len(got), len(want))
		}
		if !g.Equal(&w) {
			t.Fatalf("record %s differs:\n got %+v\nwant %+v", w.UUID, g, w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for _, id := range []string{"edge-0", "edge-2", "edge-4"} {
		if _, ok := byID[id]; !ok {
			t.Fatalf("boundary record %s missing", id)
		}
	}
	for _, id := range []string{"edge-1", "edge-3", "edge-5"} {
		if _, ok := byID[id]; ok {
			t.Fatalf("record %s outside the window delivered", id)
		}
	}
}

func (f *fixture) assertNoSecrets(t *testing.T, extra ...string) {
	t.Helper()
	all := f.logs.String() + strings.Join(extra, "\n")
	// A scrubbed echo of the header is fine: "Bearer [REDACTED]".
	all = regexp.MustCompile(`(?i)bearer \[REDACTED\]`).ReplaceAllString(all, "")
	if strings.Contains(all, clientSecret) {
		t.Fatalf("client secret leaked:\n%s", all)
	}
	if strings.Contains(all, neosim.BasicAuthHeader(clientID, clientSecret)[6:]) {
		t.Fatalf("basic credentials leaked")
	}
	if strings.Contains(strings.ToLower(all), "bearer ") {
		t.Fatalf("a bearer token may have leaked:\n%s", all)
	}
	for _, tok := range f.sim.IssuedTokens() {
		if strings.Contains(all, tok) {
			t.Fatalf("access token %s... leaked", tok[:4])
		}
	}
}

func TestFetchClean(t *testing.T) {
	f := newFixture(t, 3000, neosim.Options{})
	c := f.client(t, f.config())
	got, st, err := f.fetch(t, c)
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	if st.Pages < 4 || st.ServerCount <= int64(st.Records) || st.Outside == 0 {
		t.Fatalf("stats %+v: want several pages and a padded count", st)
	}
	if n := f.sim.Counters().TokensIssued; n != 1 {
		t.Fatalf("%d tokens issued for one run, want 1", n)
	}
	f.assertNoSecrets(t)
}

// Each fault alone, then all of them together: the window still comes out
// exact, and the fault was really injected.
func TestFetchFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults neosim.Faults
		key    string
	}{
		{"429", neosim.Faults{Rate429: 0.3, RetryAfter: "0"}, "429"},
		{"5xx", neosim.Faults{Rate5xx: 0.3, RetryAfter: "0"}, "5xx"},
		{"dropped connections", neosim.Faults{RateDrop: 0.3}, "drop"},
		{"truncated bodies", neosim.Faults{RateTruncate: 0.3}, "truncate"},
		{"html bodies", neosim.Faults{RateHTML: 0.3}, "html"},
		{"early token expiry", neosim.Faults{TokenMaxUses: 2}, "token-expired-early"},
		{"duplicates", neosim.Faults{RateDuplicate: 0.8}, "duplicate"},
		{"latency", neosim.Faults{Latency: 20 * time.Millisecond}, ""},
		{"all together", neosim.Faults{Rate429: 0.1, Rate5xx: 0.1, RateDrop: 0.1, RateTruncate: 0.1, RateHTML: 0.1, TokenMaxUses: 3, RateDuplicate: 0.5, RetryAfter: "0", Latency: time.Millisecond}, ""},
	}
	all := testtool.AtOnce(t, 8)
	defer all.Wait()
	for _, mode := range []string{"in memory", "spooled"} {
		for _, tc := range cases {
			all.Run(mode+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, 3000, neosim.Options{PageSize: 500})
				f.sim.SetFaults(tc.faults)
				cfg := f.config()
				if mode == "spooled" {
					cfg.Dedupe.SpillThreshold, cfg.Dedupe.SpoolDir = 1, t.TempDir()
				}
				c := f.client(t, cfg)
				got, st, err := f.fetch(t, c)
				if err != nil {
					t.Fatal(err)
				}
				f.assertExact(t, got)
				cnt := f.sim.Counters()
				injected := 0
				for _, v := range cnt.Faults {
					injected += v
				}
				if tc.key != "" && cnt.Faults[tc.key] == 0 || tc.faults.Latency == 0 && injected == 0 {
					t.Fatalf("no fault injected: %+v", cnt.Faults)
				}
				if tc.key == "duplicate" && st.Duplicates == 0 {
					t.Fatalf("duplicates not reported: %+v", st)
				}
				cause := map[string]source.RetryCause{"429": "throttled", "5xx": "server_error", "truncate": "bad_body", "html": "bad_body", "token-expired-early": "token_expired"}[tc.key]
				if cause != "" && st.RetryCauses[cause] == 0 {
					t.Fatalf("retries by cause %v lack %s", st.RetryCauses, cause)
				}
				t.Logf("pages %d, retries %d, faults %v, tokens %d", st.Pages, st.Retries, cnt.Faults, cnt.TokensIssued)
				f.assertNoSecrets(t)
				if mode == "spooled" {
					if left, _ := os.ReadDir(cfg.Dedupe.SpoolDir); len(left) != 0 {
						t.Fatalf("spool files left: %v", left)
					}
				}
			})
		}
	}
}

// A failed page is retried at its own URL: the first page is fetched once.
func TestFailedPageRetriedInPlace(t *testing.T) {
	f := newFixture(t, 3000, neosim.Options{PageSize: 500})
	var first atomic.Int32
	var n atomic.Int32
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
			if r.URL.Query().Get("$skiptoken") == "" {
				first.Add(1)
			}
			if r.URL.Query().Get("$skiptoken") == "2000" && n.Add(1) <= 3 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
		}
		f.sim.ServeHTTP(w, r)
	})
	got, st, err := f.fetch(t, f.client(t, f.config()))
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	if first.Load() != 1 || st.Retries != 3 {
		t.Fatalf("first page fetched %d times, %d retries; want 1 and 3", first.Load(), st.Retries)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	for _, ra := range []struct {
		name   string
		header func(now time.Time) string
		min    time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		// An HTTP date is read against the client's clock, a fake one:
		// the wait is the same however long the test takes to get there.
		{"http-date", func(now time.Time) string { return now.Add(20 * time.Second).UTC().Format(http.TimeFormat) }, 19 * time.Second},
		// Within retry.max_elapsed, a long wait is capped; beyond it the
		// request fails at once (TestRetryAfterBeyondMaxElapsed).
		{"capped", func(time.Time) string { return "1800" }, apiclient.MaxRetryAfter},
	} {
		t.Run(ra.name, func(t *testing.T) {
			f := newFixture(t, 300, neosim.Options{})
			clk := newFakeClock()
			header := ra.header(clk.Now())
			var calls atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "AuditLogRecords") && calls.Add(1) == 1 {
					w.Header().Set("Retry-After", header)
					http.Error(w, "slow down", http.StatusTooManyRequests)
					return
				}
				f.sim.ServeHTTP(w, r)
			})
			cfg := f.config()
			cfg.MaxElapsed = time.Hour
			cfg.Now, cfg.Sleep = clk.Now, clk.Sleep
			if _, _, err := f.fetch(t, f.client(t, cfg)); err != nil {
				t.Fatal(err)
			}
			clk.mu.Lock()
			slept := clk.sleeps
			clk.mu.Unlock()
			if len(slept) != 1 || slept[0] < ra.min || slept[0] > apiclient.MaxRetryAfter {
				t.Fatalf("Retry-After %q: slept %v; want one wait of at least %v, at most %v", header, slept, ra.min, apiclient.MaxRetryAfter)
			}
		})
	}
}

func TestGiveUpAfterMaxElapsed(t *testing.T) {
	f := newFixture(t, 300, neosim.Options{})
	f.sim.SetFaults(neosim.Faults{Rate5xx: 1, RetryAfter: "0"})
	cfg := f.config()
	cfg.MaxElapsed = 50 * time.Millisecond
	_, _, err := f.fetch(t, f.client(t, cfg))
	if err == nil || errclass.Classify(err) != errclass.Retryable || !strings.Contains(err.Error(), "giving up") || !strings.Contains(err.Error(), "fetch page 1 of window abc123xyz") {
		t.Fatalf("got %v (%v)", err, errclass.Classify(err))
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, 3000, neosim.Options{Now: clock, PageSize: 500})
	cfg := f.config()
	cfg.Now = clock
	c := f.client(t, cfg)
	pages := 0
	_, err := c.Fetch(context.Background(), f.win, func(*audit.Record) error {
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.sim.Counters().TokensIssued != 1 {
		t.Fatal("want one token")
	}
	// Each fetch advances the clock 10 minutes: the 1500 s token must be
	// renewed before the server sees it expired, without a single 401.
	for i := 0; i < 6; i++ {
		mu.Lock()
		now = now.Add(10 * time.Minute)
		mu.Unlock()
		if _, err := c.Fetch(context.Background(), f.win, func(*audit.Record) error { pages++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.sim.Counters().TokensIssued; n < 3 || n > 4 {
		t.Fatalf("%d tokens issued over 60 minutes of 25-minute tokens", n)
	}
	if strings.Contains(f.logs.String(), "401") {
		t.Fatalf("token was used after expiry:\n%s", f.logs.String())
	}
}

func TestTokenErrors(t *testing.T) {
	t.Run("wrong secret is an auth error that names the fix", func(t *testing.T) {
		f := newFixture(t, 300, neosim.Options{})
		cfg := f.config()
		cfg.ClientSecret = "wrong-" + clientSecret
		_, _, err := f.fetch(t, f.client(t, cfg))
		if errclass.Classify(err) != errclass.Auth || !strings.Contains(err.Error(), "client_secret") || strings.Contains(err.Error(), "wrong-") {
			t.Fatalf("got %v (%v)", err, errclass.Classify(err))
		}
		if n := f.sim.Counters().TokenRequests; n != 1 {
			t.Fatalf("rejected credentials retried: %d token requests", n)
		}
		f.assertNoSecrets(t, err.Error())
	})
	t.Run("throttled token endpoint retried at most twice", func(t *testing.T) {
		f := newFixture(t, 300, neosim.Options{})
		f.sim.SetFaults(neosim.Faults{Token429: 2})
		if _, _, err := f.fetch(t, f.client(t, f.config())); err != nil {
			t.Fatal(err)
		}
		if n := f.sim.Counters().TokenRequests; n != 3 {
			t.Fatalf("%d token requests, want 3", n)
		}
		f2 := newFixture(t, 300, neosim.Options{})
		f2.sim.SetFaults(neosim.Faults{Token429: 5})
		err := f2.client(t, f2.config()).Token(context.Background())
		if err == nil || errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), "get token: HTTP 429") {
			t.Fatalf("got %v (%v)", err, errclass.Classify(err))
		}
		if n := f2.sim.Counters().TokenRequests; n != 3 {
			t.Fatalf("%d token requests, want 3 (one try, two retries)", n)
		}
	})
	t.Run("bad token responses", func(t *testing.T) {
		for _, body := range []string{`{"token_type":"Bearer","expires_in":1500}`, `{"access_token":"x","token_type":"Bearer","expires_in":0}`, `{"access_token":"x","token_type":"Bearer","expires_in":-5}`, `{"access_token":"x","token_type":"Bearer"}`, `{"access_token":"x","token_type":"MAC","expires_in":1500}`} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, body)
			}))
			c, err := odata.New(odata.Config{APIURL: srv.URL, Account: account, ClientID: "x", ClientSecret: "y", InitialBackoff: time.Millisecond}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			err = c.Token(context.Background())
			srv.Close()
			if err == nil || errclass.Classify(err) != errclass.Permanent {
				t.Errorf("%s: got %v (%v), want a permanent error", body, err, errclass.Classify(err))
			}
		}
	})
}

func TestAPIErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		class  errclass.Class
		msg    string
	}{
		{"bad request", 400, `{"error":{"code":"400","message":"The property 'Foo' cannot be used in $filter"}}`, errclass.Permanent, "The property 'Foo' cannot be used"},
		{"forbidden", 403, `{"error":{"code":"403","message":"Access denied"}}`, errclass.Auth, "Read Audit Logs"},
		{"not found", 404, `{"error":{"code":"404","message":"Not found"}}`, errclass.Permanent, "technical name"},
		{"unauthorized twice", 401, `{"error":{"code":"401","message":"Invalid access token"}}`, errclass.Auth, "freshly issued token"},
		{"conflict", 409, `oops`, errclass.Permanent, "HTTP 409: oops"},
		{"redirect", 302, ``, errclass.Permanent, "redirect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 300, neosim.Options{})
			var apiCalls atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
					apiCalls.Add(1)
					if tc.status == 302 {
						w.Header().Set("Location", "https://evil.example/")
					}
					w.WriteHeader(tc.status)
					fmt.Fprint(w, tc.body)
					return
				}
				f.sim.ServeHTTP(w, r)
			})
			_, _, err := f.fetch(t, f.client(t, f.config()))
			if err == nil || errclass.Classify(err) != tc.class || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v (%v); want %v containing %q", err, errclass.Classify(err), tc.class, tc.msg)
			}
			want := int32(1)
			if tc.status == 401 {
				want = 2 // one renewal
			}
			if apiCalls.Load() != want {
				t.Fatalf("%d API calls, want %d", apiCalls.Load(), want)
			}
			f.assertNoSecrets(t, err.Error())
		})
	}
	t.Run("forbidden account from the simulator", func(t *testing.T) {
		f := newFixture(t, 300, neosim.Options{})
		cfg := f.config()
		cfg.Account = "someoneelse"
		_, _, err := f.fetch(t, f.client(t, cfg))
		if errclass.Classify(err) != errclass.Auth || !strings.Contains(err.Error(), "someoneelse") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad user filter", func(t *testing.T) {
		f := newFixture(t, 300, neosim.Options{})
		cfg := f.config()
		cfg.Filter = "Message eq 'x'"
		_, _, err := f.fetch(t, f.client(t, cfg))
		if errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), `"Message" cannot be used`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestUserFilterANDed(t *testing.T) {
	f := newFixture(t, 3000, neosim.Options{})
	cfg := f.config()
	cfg.Filter = "Category eq 'audit.configuration' or User eq ''"
	got, _, err := f.fetch(t, f.client(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range f.sim.Records(account, f.win.Start, f.win.End) {
		if r.Category == "audit.configuration" || r.User == "" {
			want++
		}
	}
	if len(got) != want || want == 0 {
		t.Fatalf("got %d records, want %d", len(got), want)
	}
	for _, r := range got {
		if r.Category != "audit.configuration" && r.User != "" {
			t.Fatalf("record %+v does not match the filter", r)
		}
	}
}

// nextLinks that point at another origin are re-based: the other origin
// never sees a request, let alone the token.
func TestForeignNextLinkNeverReceivesToken(t *testing.T) {
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer evil.Close()
	f := newFixture(t, 3000, neosim.Options{PageSize: 300})
	f.sim.SetFaults(neosim.Faults{ForeignOrigin: evil.URL})
	got, st, err := f.fetch(t, f.client(t, f.config()))
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	if hits.Load() != 0 || st.Pages < 5 {
		t.Fatalf("foreign origin got %d requests over %d pages", hits.Load(), st.Pages)
	}
}

// A nextLink the client must not follow (another path, on the API's host
// or another; another scheme; no URL at all) is a way out, not a dead end:
// the window is paged by the client with $top/$skip and the filter, the
// link's target sees no request, the window comes out exact, and the run
// says so once, not once per window.
func TestUnfollowableNextLinkPagedByClient(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer evil.Close()
	for name, link := range map[string]string{
		"other path on another host": evil.URL + "/steal?$skiptoken=500",
		"other path on the API host": "/auditlog/v1/internal/accounts/" + account + "/AuditLogRecords?$skiptoken=500",
		"another account":            "http://localhost:8001/auditlog/v1/accounts/other/AuditLogRecords?$skiptoken=500",
		"file scheme":                "file:///etc/passwd",
		"javascript":                 "javascript:alert(1)",
		"not a URL":                  "http://localhost:8001/%zz",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 3000, neosim.Options{PageSize: 500})
			var otherPaths atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/internal/") || strings.Contains(r.URL.Path, "/accounts/other/") {
					otherPaths.Add(1)
				}
				if !strings.HasSuffix(r.URL.Path, "/accounts/"+account+"/AuditLogRecords") {
					f.sim.ServeHTTP(w, r)
					return
				}
				// The server's own pages, with their nextLinks replaced.
				rec := httptest.NewRecorder()
				f.sim.ServeHTTP(rec, r)
				body := regexp.MustCompile(`"@odata.nextLink":"[^"]*"`).ReplaceAllString(rec.Body.String(), `"@odata.nextLink":`+strconv.Quote(link))
				w.WriteHeader(rec.Code)
				fmt.Fprint(w, body)
			})
			c := f.client(t, f.config())
			for range 2 { // two windows' worth of paging, one warning
				got, st, err := f.fetch(t, c)
				if err != nil {
					t.Fatalf("%v (stats %+v)", err, st)
				}
				f.assertExact(t, got)
				if st.Pages < 3 {
					t.Fatalf("%d pages: the window was not paged", st.Pages)
				}
			}
			if hits.Load() != 0 || otherPaths.Load() != 0 {
				t.Fatalf("the link was followed: %d requests to its host, %d to other paths", hits.Load(), otherPaths.Load())
			}
			if n := strings.Count(f.logs.String(), "points elsewhere than its records path"); n != 1 {
				t.Fatalf("%d warnings, want one per run:\n%s", n, f.logs.String())
			}
			f.assertNoSecrets(t)
		})
	}
}

func TestNextLinkLoopAndHostileLinks(t *testing.T) {
	cases := map[string]string{
		"loop":                          `{"value":[{"Uuid":"a","Time":"2026-11-24T10.00.00.000+0000"}],"@odata.nextLink":"http://localhost:8001/auditlog/v1/accounts/abc123xyz/AuditLogRecords?$filter=x&$skiptoken=1"}`,
		"endless":                       `{"@odata.count":1,"value":[{"Uuid":"a","Time":"2026-11-24T10.00.00.000+0000"}],"@odata.nextLink":"AuditLogRecords?$filter=x&$skiptoken=%d"}`,
		"endless empty pages, no count": `{"value":[],"@odata.nextLink":"AuditLogRecords?$filter=x&$skiptoken=%d"}`,
		"long nextLink":                 `{"value":[{"Uuid":"a","Time":"2026-11-24T10.00.00.000+0000"}],"@odata.nextLink":"AuditLogRecords?$filter=x&$skiptoken=%d` + strings.Repeat("9", odata.MaxNextLinkBytes) + `"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 300, neosim.Options{})
			var n atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
					i := n.Add(1)
					if i > 50 {
						t.Error("client kept paging")
						http.Error(w, "stop", 400)
						return
					}
					b := body
					if strings.Contains(b, "%d") {
						b = fmt.Sprintf(b, i)
					}
					fmt.Fprint(w, b)
					return
				}
				f.sim.ServeHTTP(w, r)
			})
			_, _, err := f.fetch(t, f.client(t, f.config()))
			if err == nil || errclass.Classify(err) != errclass.Permanent {
				t.Fatalf("got %v", err)
			}
			t.Log(err)
		})
	}
}

// Records that disappear while paging (retention, a skipping server) make
// the window fail instead of silently coming out short.
func TestShortWindowFailsLoudly(t *testing.T) {
	f := newFixture(t, 300, neosim.Options{})
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
			fmt.Fprint(w, `{"@odata.count":3,"value":[{"Uuid":"a","Time":"2026-11-24T10.00.00.000+0000"},{"Uuid":"a","Time":"2026-11-24T10.00.00.000+0000"}]}`)
			return
		}
		f.sim.ServeHTTP(w, r)
	})
	cfg := f.config()
	_, _, err := f.fetch(t, f.client(t, cfg))
	if err == nil || !strings.Contains(err.Error(), "counted 3 records") {
		t.Fatalf("got %v", err)
	}
}

func TestEmitErrorStopsFetch(t *testing.T) {
	f := newFixture(t, 3000, neosim.Options{})
	boom := errors.New("sink full")
	n := 0
	_, err := f.client(t, f.config()).Fetch(context.Background(), f.win, func(*audit.Record) error {
		n++
		if n == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 10 {
		t.Fatalf("got %v after %d records", err, n)
	}
}

func TestCancelStopsFetch(t *testing.T) {
	f := newFixture(t, 3000, neosim.Options{})
	f.sim.SetFaults(neosim.Faults{Latency: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	_, err := f.client(t, f.config()).Fetch(ctx, f.win, func(*audit.Record) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestAPIURLValidation(t *testing.T) {
	for _, u := range []string{"", "api.hana.ondemand.com", "ftp://api.hana.ondemand.com", "http://api.hana.ondemand.com", "https://u:p@api.hana.ondemand.com", "https://api.hana.ondemand.com?x=1", "http://10.0.0.1"} {
		if _, err := odata.ParseAPIURL(u); err == nil {
			t.Errorf("ParseAPIURL(%q) accepted", u)
		}
	}
	for _, u := range []string{"https://api.hana.ondemand.com", "http://127.0.0.1:8001", "http://localhost:8001", "http://[::1]:9"} {
		if _, err := odata.ParseAPIURL(u); err != nil {
			t.Errorf("ParseAPIURL(%q): %v", u, err)
		}
	}
}

// A 429 seen by one worker pauses every worker of the same client.
func TestThrottleSlowsTheWholePool(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 300, neosim.Options{})
	var calls atomic.Int32
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "AuditLogRecords") && calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		f.sim.ServeHTTP(w, r)
	})
	var mu sync.Mutex
	var slept []time.Duration
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cfg := f.config()
	cfg.MaxElapsed = time.Hour
	cfg.Now = func() time.Time { return now } // frozen: the pause never runs out by itself
	cfg.Sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}
	c := f.client(t, cfg)
	if _, err := c.Fetch(context.Background(), f.win, func(*audit.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	first := len(slept)
	mu.Unlock()
	// Another worker of the same client, after the 429: it waits too.
	if _, err := c.Fetch(context.Background(), f.win, func(*audit.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if first == 0 || len(slept) <= first || slept[first] < 29*time.Second {
		t.Fatalf("sleeps %v: the second fetch should wait out the first one's 429", slept)
	}
}

// A huge response body is cut at max_page_bytes with a clear, permanent
// error, without reading (or holding) the rest.
func TestHugeBodyIsCapped(t *testing.T) {
	f := newFixture(t, 300, neosim.Options{})
	var served atomic.Int64
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
			f.sim.ServeHTTP(w, r)
			return
		}
		fmt.Fprint(w, `{"value":[{"Uuid":"big","Time":"2026-11-24T10.00.00.000+0000","Message":"`)
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for i := 0; i < 200; i++ { // 200 MB
			n, err := w.Write(chunk)
			served.Add(int64(n))
			if err != nil {
				return
			}
		}
		fmt.Fprint(w, `"}]}`)
	})
	cfg := f.config()
	cfg.MaxPageBytes = 4 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := f.fetch(t, f.client(t, cfg))
	runtime.ReadMemStats(&after)
	if errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), "larger than 4194304 bytes") {
		t.Fatalf("got %v", err)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Fatalf("heap grew by %d MB for a capped body", grown>>20)
	}
}

// Records that are odd but valid come through intact: a 10 MB message,
// times before 1970 and far in the future.
func TestOddButValidRecords(t *testing.T) {
	big := strings.Repeat("Zeile \"mit\" Umlauten äöü\n", 10<<20/28)
	f := newFixture(t, 300, neosim.Options{})
	w := audit.Window{Account: account, Start: time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), End: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.sim.Add(nil,
		audit.Record{UUID: "old", Time: w.Start.Add(59*time.Minute + 59*time.Second + 999*time.Millisecond), Account: account, Message: big, FormatVersion: "2.2"},
		audit.Record{UUID: "future", Time: time.Date(9999, 12, 31, 22, 59, 59, 999e6, time.UTC), Account: account, FormatVersion: "2.2"})
	var got []audit.Record
	_, err := f.client(t, f.config()).Fetch(context.Background(), w, func(r *audit.Record) error { got = append(got, *r); return nil })
	if err != nil || len(got) != 1 || got[0].UUID != "old" || got[0].Message != big {
		t.Fatalf("pre-1970 window: %v, %d records", err, len(got))
	}
	fw := audit.Window{Account: account, Start: time.Date(9999, 12, 31, 22, 0, 0, 0, time.UTC), End: time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)}
	got = nil
	_, err = f.client(t, f.config()).Fetch(context.Background(), fw, func(r *audit.Record) error { got = append(got, *r); return nil })
	if err != nil || len(got) != 1 || got[0].UUID != "future" {
		t.Fatalf("year-9999 window: %v, %d records", err, len(got))
	}
}

// TLS is always verified: an unknown CA fails, source.ca_file admits a
// private CA, and servers below TLS 1.2 are refused.
func TestTLSVerification(t *testing.T) {
	sim := neosim.New(neosim.Options{Accounts: []string{account}, ClientID: clientID, ClientSecret: clientSecret})
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	w := audit.Window{Account: account, Start: winStart, End: winStart.Add(time.Hour)}
	cfg := odata.Config{APIURL: srv.URL, Account: account, ClientID: clientID, ClientSecret: clientSecret, InitialBackoff: time.Millisecond, MaxElapsed: 50 * time.Millisecond}
	c, _ := odata.New(cfg, zerolog.Nop())
	if _, err := c.Fetch(context.Background(), w, func(*audit.Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA accepted: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	cfg.CAFile = ca
	c, err := odata.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), w, func(*audit.Record) error { return nil }); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	old := httptest.NewUnstartedServer(sim)
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	defer old.Close()
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: old.Certificate().Raw}), 0o600)
	cfg.APIURL = old.URL
	c, _ = odata.New(cfg, zerolog.Nop())
	if _, err := c.Fetch(context.Background(), w, func(*audit.Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("TLS 1.1 server accepted: %v", err)
	}
	if _, err := odata.New(odata.Config{APIURL: srv.URL, Account: account, CAFile: "/nonexistent/ca.pem"}, zerolog.Nop()); errclass.Classify(err) != errclass.Config {
		t.Fatalf("missing ca_file: %v", err)
	}
}

// A spooled window is read back partition by partition: memory for the
// duplicate check does not grow with the window, and nothing stays on disk.
func TestSpooledWindowMemoryIsFlat(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 20_000, neosim.Options{})
	cfg := f.config()
	cfg.Dedupe.SpillThreshold, cfg.Dedupe.SpoolDir, cfg.Dedupe.SpoolPartition = 1000, t.TempDir(), 1500
	var got []audit.Record
	st, err := f.client(t, cfg).Fetch(context.Background(), f.win, func(r *audit.Record) error { got = append(got, *r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	if st.ServerCount < 10*cfg.Dedupe.SpoolPartition {
		t.Fatalf("window of %d records is too small for ten partitions", st.ServerCount)
	}
	if left, _ := os.ReadDir(cfg.Dedupe.SpoolDir); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
}

// Every reading of what SAP's documentation leaves open, each with throttling
// by a gateway (Retry-After in seconds, as a date, or absent), server errors
// and served duplicates on top: the window comes out exact, in memory and
// spooled. The gateway refuses one request in seven by count, so every
// fetch is throttled however fast the machine is.
func TestFetchAcrossReadings(t *testing.T) {
	t.Parallel()
	all := testtool.AtOnce(t, 8)
	defer all.Wait()
	for _, name := range neosim.ReadingNames() {
		rd := neosim.AllReadings()[name]
		for _, mode := range []string{"in memory", "spooled"} {
			for _, ra := range []string{"0", "date", "none"} {
				all.Run(name+"/"+mode+"/retry-after="+ra, func(t *testing.T) { fetchAcrossReadings(t, rd, mode, ra) })
			}
		}
	}
}

func fetchAcrossReadings(t *testing.T, rd neosim.Readings, mode, ra string) {
	// Six pages, as many as 3000 records in pages of 500 (what the
	// readings differ in is paging, not volume).
	f := newFixture(t, 1200, neosim.Options{PageSize: 200, Readings: rd})
	// Throttling from a gateway in front, as a real API does it.
	f.sim.SetFaults(neosim.Faults{GatewayAdmit: 6, GatewayRetryAfter: ra, Rate5xx: 0.05, RateDuplicate: 0.3, RetryAfter: ra})
	cfg := f.config()
	if mode == "spooled" {
		cfg.Dedupe.SpillThreshold, cfg.Dedupe.SpoolDir = 100, t.TempDir()
	}
	// As the exporter does: a window whose listing shows
	// skipped records is fetched again, at most 3 times.
	c := f.client(t, cfg)
	var got []audit.Record
	var st source.Stats
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if got, st, err = f.fetch(t, c); !errors.Is(err, source.ErrIncomplete) {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s: %v (stats %+v)", rd, err, st)
	}
	if st.Throttled == 0 || st.RetryCauses[source.CauseThrottled] < st.Throttled {
		t.Fatalf("the fetch was not throttled, or did not retry what was: stats %+v", st)
	}
	want := map[neosim.CountReading]string{neosim.CountDistinct: source.CompletenessCounted, neosim.CountRows: source.CompletenessCounted, neosim.CountNone: source.CompletenessUncounted}[rd.Count]
	if rd.Count == neosim.CountRows && rd.StoredDuplicates > 0 {
		want = source.CompletenessStoredDuplicates
	}
	if st.Completeness != want {
		t.Fatalf("completeness %q, want %q (stats %+v)", st.Completeness, want, st)
	}
	f.assertExact(t, got)
	f.assertNoSecrets(t)
}

// When nextLinks drop $filter the client pages with $top/$skip, whose
// offsets a server that adds repeated rows to its pages can shift: the
// window then comes out exact or fails loudly, never short.
func TestSkipPagingWithServedDuplicatesNeverLoses(t *testing.T) {
	t.Parallel()
	exact, loud := 0, 0
	for seed := 0; seed < 6; seed++ {
		f := newFixture(t, 3000, neosim.Options{PageSize: 500, Readings: neosim.Readings{NextLinkDropsFilter: true}, Seed: uint64(seed)})
		f.sim.SetFaults(neosim.Faults{RateDuplicate: 0.5})
		got, _, err := f.fetch(t, f.client(t, f.config()))
		switch {
		case err == nil:
			f.assertExact(t, got)
			exact++
		case errors.Is(err, source.ErrIncomplete):
			loud++
		default:
			t.Fatal(err)
		}
	}
	t.Logf("%d exact, %d failed loudly", exact, loud)
	if loud == 0 {
		t.Fatal("no window was affected: the case is not exercised")
	}
}

// Behind an API gateway, with and without Retry-After, several workers
// sharing one client: every window comes out exact, the client counted
// every refusal, and the controller was cut by the gateway. The gateway
// refuses by count (1 in 6, 2 in 22, 4 in 44 requests, as a bucket of 5,
// 20 or 40 found empty), so it throttles this client on a fast machine and
// on a slow one alike; the controller against a token bucket in time is
// TestRateControllerBehindAGateway (source), in fake time.
func TestFetchBehindGateway(t *testing.T) {
	t.Parallel()
	// The cases mostly wait out refusals: all six at once.
	all := testtool.AtOnce(t, 6)
	defer all.Wait()
	for _, gw := range []struct{ admit, refuse int }{{5, 1}, {20, 2}, {40, 4}} {
		for _, ra := range []string{"1", "none"} {
			all.Run(fmt.Sprintf("admit=%d refuse=%d retry-after=%s", gw.admit, gw.refuse, ra), func(t *testing.T) {
				f := newFixture(t, 1000, neosim.Options{PageSize: 100})
				f.sim.SetFaults(neosim.Faults{GatewayAdmit: gw.admit, GatewayRefuse: gw.refuse, GatewayRetryAfter: ra})
				cfg := f.config()
				cfg.InitialBackoff = 50 * time.Millisecond
				c := f.client(t, cfg)
				var wg sync.WaitGroup
				errs := make([]error, 4)
				got := make([][]audit.Record, 4)
				throttled := 0
				var mu sync.Mutex
				for i := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						st, err := c.Fetch(context.Background(), f.win, func(r *audit.Record) error {
							got[i] = append(got[i], *r)
							return nil
						})
						errs[i] = err
						mu.Lock()
						throttled += st.Throttled
						mu.Unlock()
					}()
				}
				wg.Wait()
				for i := range 4 {
					if errs[i] != nil {
						t.Fatal(errs[i])
					}
					f.assertExact(t, got[i])
				}
				refused := f.sim.Counters().Faults["gateway-429"]
				if refused == 0 || throttled != refused || c.RequestRate() == 0 {
					t.Fatalf("gateway refused %d, client counted %d, allowed rate now %.1f", refused, throttled, c.RequestRate())
				}
				t.Logf("%d requests refused, %d served, allowed rate now %.1f/s", refused, f.sim.Counters().APIRequests, c.RequestRate())
			})
		}
	}
}
