package apiclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const testSecret = "Cl1ent-S3cret-Value"

// answer is one scripted HTTP answer.
type answer struct {
	status int
	header map[string]string
	body   string
}

// fakeAPI is a token endpoint (POST /token) and an API (GET /x) that
// answer from scripts, then with success.
type fakeAPI struct {
	mu     sync.Mutex
	tokens []answer // the token endpoint's next answers
	api    []answer // the API's next answers
	// expires is the expires_in of the tokens issued (JSON); "3600" by
	// default.
	expires     string
	tokenCalls  int
	apiCalls    int
	authHeaders []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var a answer
	switch r.URL.Path {
	case "/token":
		f.tokenCalls++
		if len(f.tokens) > 0 {
			a, f.tokens = f.tokens[0], f.tokens[1:]
			break
		}
		exp := f.expires
		if exp == "" {
			exp = "3600"
		}
		a = answer{status: 200, body: fmt.Sprintf(`{"access_token":"tok-%d","token_type":"bearer","expires_in":%s}`, f.tokenCalls, exp)}
	case "/x":
		f.apiCalls++
		f.authHeaders = append(f.authHeaders, r.Header.Get("Authorization"))
		if len(f.api) > 0 {
			a, f.api = f.api[0], f.api[1:]
			break
		}
		a = answer{status: 200, body: "ok"}
	default:
		a = answer{status: 404}
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if strings.HasPrefix(a.body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeAPI) counts() (tokens, api int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.apiCalls
}

// clock is a settable clock whose sleeps move it on (no test waits for
// real) and are recorded.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return nil
}
func (c *clock) longest() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for _, d := range c.slept {
		m = max(m, d)
	}
	return m
}

// newTestClient starts f and a Client of it; rt, when set, wraps the
// transport (faults of the connection).
func newTestClient(t *testing.T, f *fakeAPI, rt func(http.RoundTripper) http.RoundTripper) (*Client, *clock, *url.URL) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	clk := &clock{t: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	var transport http.RoundTripper = srv.Client().Transport
	if rt != nil {
		transport = rt(transport)
	}
	c, err := New(Config{
		Token:     clientcredentials.Config{ClientID: "cid", ClientSecret: testSecret, TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		Secrets:   SecretsOf("cid", testSecret),
		Transport: transport, Now: clk.Now, Sleep: clk.Sleep, InitialBackoff: time.Millisecond,
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL + "/x")
	return c, clk, u
}

// get makes one Get of u and returns the body read, the stats and the error.
func get(c *Client, u *url.URL) (string, source.Stats, error) {
	st := source.NewStats()
	var body string
	err := c.Get(context.Background(), u, &st, func(_ http.Header, _ int, r io.Reader) error {
		b, err := io.ReadAll(r)
		body = string(b)
		return err
	})
	return body, st, err
}

// TestTokenRenewal: a token is reused until a minute (or a tenth of its
// life, if shorter) before it expires, by the injected clock; expires_in
// is capped at a day.
func TestTokenRenewal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expires string
		after   time.Duration
		renewed bool
	}{
		{"an hour, kept until a minute before", "3600", 58*time.Minute + 59*time.Second, false},
		{"an hour, renewed a minute before", "3600", 59 * time.Minute, true},
		{"100 s, kept until a tenth before", "100", 89*time.Second + 999*time.Millisecond, false},
		{"100 s, renewed a tenth before", "100", 90 * time.Second, true},
		{"2 s, kept", "2", 1799 * time.Millisecond, false},
		{"2 s, renewed", "2", 1800 * time.Millisecond, true},
		{"huge, capped at a day: kept", "99999999999", 23*time.Hour + 58*time.Minute, false},
		{"huge, capped at a day: renewed", "99999999999", 23*time.Hour + 59*time.Minute, true},
		{"past the end", "3600", 2 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{expires: tc.expires}
			c, clk, u := newTestClient(t, f, nil)
			if err := c.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			clk.Add(tc.after)
			if _, _, err := get(c, u); err != nil {
				t.Fatal(err)
			}
			want := "Bearer tok-1"
			if tc.renewed {
				want = "Bearer tok-2"
			}
			if tokens, _ := f.counts(); f.authHeaders[0] != want || tokens != len(c.IssuedTokens()) {
				t.Fatalf("request sent with %q after %v (%d tokens issued), want %q", f.authHeaders[0], tc.after, tokens, want)
			}
		})
	}
}

// TestTokenEndpointAnswers: what each answer of the token endpoint makes
// of a run: the error's class, how many times it was asked, what the
// error says, and never a secret.
func TestTokenEndpointAnswers(t *testing.T) {
	ok := answer{status: 200, body: `{"access_token":"good","token_type":"bearer","expires_in":3600}`}
	tokenBody := func(fields string) answer { return answer{status: 200, body: "{" + fields + "}"} }
	for _, tc := range []struct {
		name    string
		script  []answer
		class   errclass.Class // Unknown: success
		asked   int
		says    string
		refused bool // errors.Is ErrCredentialsRefused
		slept   time.Duration
	}{
		{name: "issued", script: []answer{ok}, asked: 1},
		{name: "401", script: []answer{{status: 401, body: `{"error":"unauthorized"}`}}, class: errclass.Auth, asked: 1, says: "HTTP 401", refused: true},
		{name: "403", script: []answer{{status: 403}}, class: errclass.Auth, asked: 1, refused: true},
		{name: "400 invalid_client", script: []answer{{status: 400, body: `{"error":"invalid_client"}`}}, class: errclass.Auth, asked: 1, says: "invalid_client", refused: true},
		{name: "400 invalid_grant", script: []answer{{status: 400, body: `{"error":"invalid_grant"}`}}, class: errclass.Permanent, asked: 1, says: "HTTP 400 (invalid_grant)"},
		{name: "description echoing the secret", script: []answer{{status: 400, body: `{"error":"invalid_request","error_description":"client_secret ` + testSecret + ` is wrong"}`}},
			class: errclass.Permanent, asked: 1, says: Redacted},
		{name: "503 then issued", script: []answer{{status: 503}, ok}, asked: 2},
		{name: "429 Retry-After 7 then issued", script: []answer{{status: 429, header: map[string]string{"Retry-After": "7"}}, ok}, asked: 2, slept: 7 * time.Second},
		{name: "500 three times: given up", script: []answer{{status: 500}, {status: 500}, {status: 500}, ok}, class: errclass.Permanent, asked: 3, says: "gave up after 3 tries"},
		{name: "Retry-After beyond retry.max_elapsed", script: []answer{{status: 503, header: map[string]string{"Retry-After": "86400"}}, ok},
			class: errclass.Permanent, asked: 1, says: "more than retry.max_elapsed"},
		{name: "not JSON: retried, then given up", script: []answer{{status: 200, body: "<html>"}, {status: 200, body: "<html>"}, {status: 200, body: "<html>"}},
			class: errclass.Permanent, asked: 3},
		{name: "no access_token", script: []answer{tokenBody(`"token_type":"bearer","expires_in":3600`)}, class: errclass.Permanent, asked: 1, says: "access_token"},
		{name: "not a bearer token", script: []answer{tokenBody(`"access_token":"a","token_type":"mac","expires_in":3600`)}, class: errclass.Permanent, asked: 1, says: "not Bearer"},
		{name: "a token a header cannot carry", script: []answer{tokenBody(`"access_token":"a\r\nX-Evil: 1","expires_in":3600`)}, class: errclass.Permanent, asked: 1, says: "cannot carry"},
		{name: "expires_in a string", script: []answer{tokenBody(`"access_token":"a","expires_in":"3600"`)}, class: errclass.Permanent, asked: 1, says: "string"},
		{name: "no expires_in", script: []answer{tokenBody(`"access_token":"a"`)}, class: errclass.Permanent, asked: 1, says: "no expires_in"},
		{name: "expires_in 0", script: []answer{tokenBody(`"access_token":"a","expires_in":0`)}, class: errclass.Permanent, asked: 1, says: "not a positive"},
		{name: "expires_in negative", script: []answer{tokenBody(`"access_token":"a","expires_in":-5`)}, class: errclass.Permanent, asked: 1, says: "not a positive"},
		// x/oauth2 reads expires_in as a whole number: anything else is a
		// response it cannot parse, retried like a garbled body.
		{name: "expires_in an object", script: []answer{tokenBody(`"access_token":"a","expires_in":{}`), tokenBody(`"access_token":"a","expires_in":{}`), tokenBody(`"access_token":"a","expires_in":{}`)},
			class: errclass.Permanent, asked: 3, says: "cannot parse"},
		{name: "expires_in a fraction", script: []answer{tokenBody(`"access_token":"a","expires_in":1.5`), tokenBody(`"access_token":"a","expires_in":1.5`), tokenBody(`"access_token":"a","expires_in":1.5`)},
			class: errclass.Permanent, asked: 3, says: "cannot parse"},
		{name: "expires_in a fraction once, then whole", script: []answer{tokenBody(`"access_token":"a","expires_in":1.5`), ok}, asked: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{tokens: tc.script}
			c, clk, _ := newTestClient(t, f, nil)
			err := c.Token(context.Background())
			asked, _ := f.counts()
			switch {
			case errclass.Classify(err) != tc.class:
				t.Fatalf("err %v: class %v, want %v", err, errclass.Classify(err), tc.class)
			case asked != tc.asked:
				t.Fatalf("token endpoint asked %d times, want %d (%v)", asked, tc.asked, err)
			case tc.says != "" && !strings.Contains(fmt.Sprint(err), tc.says):
				t.Fatalf("err %q does not say %q", err, tc.says)
			case tc.refused != errors.Is(err, ErrCredentialsRefused):
				t.Fatalf("err %v: refused %v, want %v", err, errors.Is(err, ErrCredentialsRefused), tc.refused)
			case err != nil && strings.Contains(err.Error(), testSecret):
				t.Fatalf("err shows the secret: %v", err)
			case clk.longest() != tc.slept && tc.slept > 0:
				t.Fatalf("slept %v at most, want %v (Retry-After)", clk.longest(), tc.slept)
			}
			if err != nil {
				// The run asks no more after giving up.
				if again := c.Token(context.Background()); again == nil {
					t.Fatal("a second Token after a failed issuing succeeded")
				}
				if n, _ := f.counts(); n != asked {
					t.Fatalf("a second Token asked the endpoint again (%d, then %d)", asked, n)
				}
			}
		})
	}
}

// TestTokensThatKeepDying: tokens that expire at once empty the budget of
// token requests: the client fails instead of asking for one a page.
func TestTokensThatKeepDying(t *testing.T) {
	f := &fakeAPI{expires: "1"}
	c, clk, _ := newTestClient(t, f, nil)
	var err error
	for range TokenBurst + 1 {
		if err = c.Token(context.Background()); err != nil {
			break
		}
		clk.Add(time.Second)
	}
	if asked, _ := f.counts(); errclass.Classify(err) != errclass.Permanent || !strings.Contains(fmt.Sprint(err), "keep dying") || asked != TokenBurst {
		t.Fatalf("after %d tokens: %v", asked, err)
	}
}

// faultyTransport fails the API's first request with err (the token
// endpoint's pass).
type faultyTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	err  error
}

func (f *faultyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	err := f.err
	if r.URL.Path == "/x" {
		f.err = nil
	} else {
		err = nil
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.next.RoundTrip(r)
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestRetryCauses: each answer of the API and each failure of the
// connection is retried (and counted under its cause), renews the token,
// or fails at once with its class.
func TestRetryCauses(t *testing.T) {
	ra := func(v string) map[string]string { return map[string]string{"Retry-After": v} }
	for _, tc := range []struct {
		name      string
		first     *answer // the API's first answer (then 200)
		transport error   // or the connection's first failure
		twice     bool    // the first answer comes twice
		class     errclass.Class
		cause     source.RetryCause
		throttled int
		says      string
	}{
		{name: "500", first: &answer{status: 500}, cause: source.CauseServerError},
		{name: "502", first: &answer{status: 502}, cause: source.CauseServerError},
		{name: "504", first: &answer{status: 504}, cause: source.CauseServerError},
		{name: "503 without Retry-After", first: &answer{status: 503}, cause: source.CauseServerError},
		{name: "503 with Retry-After", first: &answer{status: 503, header: ra("2")}, cause: source.CauseThrottled, throttled: 1},
		{name: "429", first: &answer{status: 429}, cause: source.CauseThrottled, throttled: 1},
		{name: "408", first: &answer{status: 408}, cause: source.CauseServerError},
		{name: "401 once: the token is renewed", first: &answer{status: 401}, cause: source.CauseTokenExpired},
		{name: "401 with a fresh token", first: &answer{status: 401}, twice: true, class: errclass.Auth, says: "HTTP 401"},
		{name: "403", first: &answer{status: 403, body: "forbidden"}, class: errclass.Auth, says: "HTTP 403: forbidden"},
		{name: "404", first: &answer{status: 404}, class: errclass.Permanent, says: "HTTP 404"},
		{name: "400", first: &answer{status: 400}, class: errclass.Permanent},
		{name: "410", first: &answer{status: 410}, class: errclass.Permanent},
		{name: "302 is not followed", first: &answer{status: 302, header: map[string]string{"Location": "https://elsewhere.example/"}}, class: errclass.Permanent, says: "redirects are not followed"},
		{name: "connection refused", transport: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{}}, cause: source.CauseNetwork},
		{name: "connection reset", transport: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, cause: source.CauseNetwork},
		{name: "unexpected EOF", transport: io.ErrUnexpectedEOF, cause: source.CauseNetwork},
		{name: "timeout", transport: timeoutError{}, cause: source.CauseNetwork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{}
			if tc.first != nil {
				f.api = []answer{*tc.first}
				if tc.twice {
					f.api = append(f.api, *tc.first)
				}
			}
			var rt func(http.RoundTripper) http.RoundTripper
			if tc.transport != nil {
				rt = func(next http.RoundTripper) http.RoundTripper { return &faultyTransport{next: next, err: tc.transport} }
			}
			c, _, u := newTestClient(t, f, rt)
			body, st, err := get(c, u)
			if got := errclass.Classify(err); got != tc.class {
				t.Fatalf("err %v: class %v, want %v", err, got, tc.class)
			}
			if tc.class != errclass.Unknown {
				if st.Retries != 0 && !tc.twice {
					t.Fatalf("%d retries of a request that fails at once", st.Retries)
				}
				if !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("err %q does not say %q", err, tc.says)
				}
				var se *StatusError
				if tc.first != nil && (!errors.As(err, &se) || se.Code != tc.first.status) {
					t.Fatalf("err %v carries no StatusError %d", err, tc.first.status)
				}
				return
			}
			if body != "ok" || st.Retries != 1 || st.RetryCauses[tc.cause] != 1 || st.Throttled != tc.throttled {
				t.Fatalf("body %q, stats %+v: want one retry for %s, %d throttled", body, st, tc.cause, tc.throttled)
			}
			if tc.cause == source.CauseTokenExpired && (len(c.IssuedTokens()) != 2 || f.authHeaders[1] != "Bearer tok-2") {
				t.Fatalf("after a 401: tokens %d, sent %v; want the request repeated with a new token", len(c.IssuedTokens()), f.authHeaders)
			}
		})
	}
}

// TestRetryCauseOfBody: a body the source could not read is retried under
// the cause it marks; a read error it does not mark fails at once.
func TestRetryCauseOfBody(t *testing.T) {
	f := &fakeAPI{}
	c, _, u := newTestClient(t, f, nil)
	st := source.NewStats()
	n := 0
	err := c.Get(context.Background(), u, &st, func(http.Header, int, io.Reader) error {
		if n++; n == 1 {
			return source.WithCause(source.CauseBadBody, errclass.Mark(errclass.Retryable, io.ErrUnexpectedEOF))
		}
		return nil
	})
	if err != nil || st.RetryCauses[source.CauseBadBody] != 1 || n != 2 {
		t.Fatalf("bad body: %v, %+v, %d reads", err, st, n)
	}
	err = c.Get(context.Background(), u, &st, func(http.Header, int, io.Reader) error { return errors.New("not an audit log page") })
	if err == nil || errclass.Classify(err) == errclass.Retryable || !strings.Contains(err.Error(), "not an audit log page") {
		t.Fatalf("unmarked read error: %v", err)
	}
}

// TestRetryAfterForms: how long a 429 makes the client wait, for each
// form of Retry-After: seconds, an HTTP date, none, garbage, more than
// MaxRetryAfter, more than retry.max_elapsed.
func TestRetryAfterForms(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // the clock's start
	for _, tc := range []struct {
		name   string
		header string
		wait   time.Duration // the longest sleep; -1: only backoff (under a second)
		gaveUp bool
	}{
		{"seconds", "7", 7 * time.Second, false},
		{"seconds with spaces", " 12 ", 12 * time.Second, false},
		{"HTTP date", at.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, false},
		{"HTTP date in the past", at.Add(-time.Hour).Format(http.TimeFormat), -1, false},
		{"absent", "", -1, false},
		{"garbage", "soon", -1, false},
		{"a fraction", "1.5", -1, false},
		{"negative", "-30", -1, false},
		{"over MaxRetryAfter: capped", "400", MaxRetryAfter, false},
		{"over retry.max_elapsed: given up at once", "3600", 0, true},
		{"huge: given up at once", "99999999999999999999", 0, true},
		{"a date next year: given up at once", at.AddDate(1, 0, 0).Format(http.TimeFormat), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := answer{status: 429}
			if tc.header != "" {
				a.header = map[string]string{"Retry-After": tc.header}
			}
			f := &fakeAPI{api: []answer{a}}
			c, clk, u := newTestClient(t, f, nil)
			body, st, err := get(c, u)
			_, calls := f.counts()
			if tc.gaveUp {
				if err == nil || !strings.Contains(err.Error(), "more than retry.max_elapsed") || calls != 1 || clk.longest() != 0 {
					t.Fatalf("%v after %d requests, slept %v; want to give up at once", err, calls, clk.slept)
				}
				return
			}
			if err != nil || body != "ok" || calls != 2 || st.Throttled != 1 {
				t.Fatalf("%q, %v after %d requests, %+v", body, err, calls, st)
			}
			switch longest := clk.longest(); {
			case tc.wait < 0 && longest >= time.Second:
				t.Fatalf("slept %v with no usable Retry-After, want only a backoff", clk.slept)
			case tc.wait >= 0 && longest != tc.wait:
				t.Fatalf("slept %v at most, want %v", clk.slept, tc.wait)
			}
		})
	}
}

// TestErrorsAreScrubbed: an API that echoes the credentials and the
// token (a gateway quoting the request) shows neither in an error, nor
// does a request URL holding the secret.
func TestErrorsAreScrubbed(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("cid:" + testSecret))
	for _, tc := range []struct {
		name string
		body string
		path string
	}{
		{"the secret", "bad credentials " + testSecret, "/x"},
		{"its URL encoding", "echo " + url.QueryEscape(testSecret+"&"), "/x"},
		{"Basic id:secret", "Authorization: Basic " + basic, "/x"},
		{"the bearer token", "Authorization: Bearer tok-1", "/x"},
		{"the secret in the query", "no", "/x?client_secret=" + testSecret},
		{"terminal escapes", "\x1b[2Jcleared \u202eevil", "/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{api: []answer{{status: 404, body: tc.body}, {status: 404, body: tc.body}}}
			c, _, u := newTestClient(t, f, nil)
			u, _ = u.Parse(tc.path)
			_, _, err := get(c, u)
			try := c.Try(context.Background(), u, func(http.Header, int, io.Reader) error { return nil })
			for _, e := range []error{c.ScrubErr(err), try} {
				msg := fmt.Sprint(e)
				if e == nil || strings.Contains(msg, testSecret) || strings.Contains(msg, basic) || strings.Contains(msg, "tok-1") || strings.ContainsFunc(msg, unsafeRune) {
					t.Fatalf("error shows a credential or unsafe text: %q", msg)
				}
				var se *StatusError
				if !errors.As(e, &se) || se.Code != 404 || errclass.Classify(e) != errclass.Permanent {
					t.Fatalf("scrubbing lost the error's chain: %v", e)
				}
			}
			if got := c.Scrub("x " + testSecret + " tok-1"); strings.Contains(got, testSecret) || strings.Contains(got, "tok-1") {
				t.Fatalf("Scrub = %q", got)
			}
		})
	}
}

// TestBodyLimits: a body over MaxBodyBytes fails permanently, and 204
// hands the reader an empty body.
func TestBodyLimits(t *testing.T) {
	f := &fakeAPI{api: []answer{{status: 200, body: strings.Repeat("x", 100)}, {status: 204}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{Token: clientcredentials.Config{ClientID: "cid", ClientSecret: testSecret, TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		MaxBodyBytes: 50, Sleep: func(context.Context, time.Duration) error { return nil }}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL + "/x")
	if _, _, err := get(c, u); errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), "larger than 50 bytes") {
		t.Fatalf("oversized body: %v", err)
	}
	if body, _, err := get(c, u); err != nil || body != "" {
		t.Fatalf("204: %q, %v", body, err)
	}
}

// Try (the Retention API) goes through the request rate like any other
// request: its other failures free their place in the start's window
// (three in a row do not wait for a fourth answer), and the API's 429 to
// it is a throttle (the rate is on from then).
func TestTryGoesThroughTheRate(t *testing.T) {
	f := &fakeAPI{api: []answer{{status: 403}, {status: 403}, {status: 403}, {status: 429}}}
	c, _, u := newTestClient(t, f, nil)
	read := func(http.Header, int, io.Reader) error { return nil }
	for i := range 3 {
		if err := c.Try(context.Background(), u, read); err == nil || c.Rate() != 0 {
			t.Fatalf("403 number %d: error %v, rate %v (want an error, no limit)", i+1, err, c.Rate())
		}
	}
	if err := c.Try(context.Background(), u, read); err == nil || c.Rate() == 0 {
		t.Fatalf("a 429 to Try: error %v, rate %v (want an error, a limit)", err, c.Rate())
	}
}
