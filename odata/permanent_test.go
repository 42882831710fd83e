package odata_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
)

// fakeClock is the time of the simulator and the client in one test:
// sleeping advances it, so no test waits for real.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().UTC()} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) slept() (total time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.sleeps {
		total += d
	}
	return total
}

// rewriteToken serves the simulator with the token response's body
// changed by edit, and counts token and API requests.
func rewriteToken(f *fixture, edit func(body string) string) (tokens, api *atomic.Int32) {
	tokens, api = new(atomic.Int32), new(atomic.Int32)
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/oauth2/") {
			api.Add(1)
			f.sim.ServeHTTP(w, r)
			return
		}
		tokens.Add(1)
		rec := httptest.NewRecorder()
		f.sim.ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, edit(rec.Body.String()))
	})
	return tokens, api
}

// TestPermanentTokenFaults: a token response that can never work fails at
// once, with a message that says what is wrong, asking the token endpoint
// once and the API never.
func TestPermanentTokenFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"token with CR LF", func(b string) string {
			return strings.Replace(b, `"access_token":"`, `"access_token":"x\r\nX-Injected: 1\r\n`, 1)
		}, "characters an HTTP header cannot carry"},
		{"token with a space", func(b string) string { return strings.Replace(b, `"access_token":"`, `"access_token":"a b`, 1) }, "characters an HTTP header cannot carry"},
		{"expires_in a string", func(b string) string { return strings.Replace(b, `"expires_in":1500`, `"expires_in":"3600"`, 1) }, `expires_in is the string "3600", not a number`},
		{"expires_in missing", func(b string) string { return strings.Replace(b, `"expires_in":1500,`, ``, 1) }, "no expires_in"},
		{"expires_in zero", func(b string) string { return strings.Replace(b, `"expires_in":1500`, `"expires_in":0`, 1) }, "not a positive number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 300, neosim.Options{})
			tokens, api := rewriteToken(f, tc.edit)
			clk := newFakeClock()
			cfg := f.config()
			cfg.Sleep, cfg.Now, cfg.MaxElapsed = clk.Sleep, clk.Now, 10*time.Minute
			_, _, err := f.fetch(t, f.client(t, cfg))
			if err == nil || errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a permanent error saying %q", err, tc.want)
			}
			if tokens.Load() != 1 || api.Load() != 0 || clk.slept() != 0 {
				t.Fatalf("%d token requests, %d API requests, %s waited: want 1, 0, none", tokens.Load(), api.Load(), clk.slept())
			}
			f.assertNoSecrets(t, err.Error())
		})
	}
}

// TestRetryAfterBeyondMaxElapsed: a Retry-After longer than what
// retry.max_elapsed leaves fails the request at once, saying so.
func TestRetryAfterBeyondMaxElapsed(t *testing.T) {
	for _, ra := range []string{"10800", "99999999999999999999", "date"} {
		t.Run(ra, func(t *testing.T) {
			clk := newFakeClock()
			f := newFixture(t, 300, neosim.Options{Now: clk.Now})
			header := ra
			if ra == "date" {
				header = clk.Now().Add(3 * time.Hour).Format(http.TimeFormat)
			}
			f.sim.SetFaults(neosim.Faults{Rate429: 1, RetryAfter: header})
			cfg := f.config()
			cfg.Sleep, cfg.Now, cfg.MaxElapsed = clk.Sleep, clk.Now, 5*time.Second
			_, _, err := f.fetch(t, f.client(t, cfg))
			if err == nil || errclass.Classify(err) != errclass.Retryable || !strings.Contains(err.Error(), "(Retry-After), more than retry.max_elapsed (5s) leaves") {
				t.Fatalf("got %v", err)
			}
			if clk.slept() > 5*time.Second {
				t.Fatalf("waited %s with retry.max_elapsed 5s", clk.slept())
			}
		})
	}
	// The token endpoint's Retry-After too.
	clk := newFakeClock()
	f := newFixture(t, 300, neosim.Options{Now: clk.Now})
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7200")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":"too_many_requests"}`)
	})
	cfg := f.config()
	cfg.Sleep, cfg.Now, cfg.MaxElapsed = clk.Sleep, clk.Now, 5*time.Second
	_, _, err := f.fetch(t, f.client(t, cfg))
	if err == nil || !strings.Contains(err.Error(), "asks to wait 2h0m0s (Retry-After), more than retry.max_elapsed (5s) leaves") || clk.slept() > 5*time.Second {
		t.Fatalf("token endpoint: %v after %s", err, clk.slept())
	}
}

// TestTokensThatKeepDying: tokens that live 2 s, or work for one request,
// are renewed within the client's budget (apiclient.TokenBurst at once,
// then one every apiclient.TokenInterval), and when it is spent the fetch
// fails, saying why, instead of asking for a token a page.
func TestTokensThatKeepDying(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts neosim.Options
		f    neosim.Faults
	}{
		{"expires_in 2", neosim.Options{TokenTTL: 2 * time.Second}, neosim.Faults{}},
		{"works once", neosim.Options{}, neosim.Faults{TokenMaxUses: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			start := clk.Now()
			tc.opts.Now, tc.opts.PageSize = clk.Now, 20
			f := newFixture(t, 6000, tc.opts)
			f.sim.SetFaults(tc.f)
			var tokens atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/oauth2/") {
					tokens.Add(1)
				} else {
					// Each page takes a second of (simulated) time.
					clk.Sleep(context.Background(), time.Second)
				}
				f.sim.ServeHTTP(w, r)
			})
			cfg := f.config()
			cfg.Sleep, cfg.Now = clk.Sleep, clk.Now
			_, st, err := f.fetch(t, f.client(t, cfg))
			if err == nil || errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), "the access tokens keep dying") {
				t.Fatalf("got %v after %d pages", err, st.Pages)
			}
			elapsed := clk.Now().Sub(start)
			if budget := apiclient.TokenBurst + int32(elapsed/apiclient.TokenInterval); tokens.Load() > budget {
				t.Fatalf("%d tokens asked for in %s (simulated), more than the budget of %d", tokens.Load(), elapsed, budget)
			}
			t.Logf("%d tokens, %d pages, %s: %v", tokens.Load(), st.Pages, elapsed, err)
		})
	}
	// Tokens that live their expires_in (here 3 minutes, the pages taking
	// 10 s each) are renewed as they expire, no more often, and the window
	// is complete.
	clk := newFakeClock()
	f := newFixture(t, 3000, neosim.Options{Now: clk.Now, TokenTTL: 3 * time.Minute, PageSize: 50})
	var tokens atomic.Int32
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/oauth2/") {
			tokens.Add(1)
		} else {
			clk.Sleep(context.Background(), 10*time.Second)
		}
		f.sim.ServeHTTP(w, r)
	})
	cfg := f.config()
	cfg.Sleep, cfg.Now = clk.Sleep, clk.Now
	got, st, err := f.fetch(t, f.client(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	elapsed := time.Duration(st.Pages) * 10 * time.Second
	if max := int32(elapsed/(3*time.Minute*9/10)) + 1; tokens.Load() > max {
		t.Fatalf("%d tokens for %d pages over %s, want at most %d", tokens.Load(), st.Pages, elapsed, max)
	}
}

// TestNoProgressPaging: fresh nextLinks that serve only records already
// served, or only records outside the window, with no count: the window
// fails after source.MaxStalledPages such pages, loudly, instead of
// following them to max_pages_per_window (100,000) on every run.
func TestNoProgressPaging(t *testing.T) {
	rec := func(uuid string, at time.Time) string {
		return fmt.Sprintf(`{"Uuid":%q,"Category":"audit.configuration","User":"u","Tenant":"t","Account":%q,"Application":"a","Time":%q,"Message":"m","InstanceId":null,"FormatVersion":"2.2"}`,
			uuid, account, at.UTC().Format("2006-01-02T15.04.05.000+0000"))
	}
	for _, tc := range []struct {
		name string
		page func(n int) []string
	}{
		{"the same records again", func(n int) []string {
			return []string{rec("same-1", winStart.Add(time.Minute)), rec("same-2", winStart.Add(2*time.Minute))}
		}},
		{"only records outside the window", func(n int) []string {
			return []string{rec(fmt.Sprintf("old-%d", n), winStart.Add(-time.Duration(n+1)*time.Second)), rec(fmt.Sprintf("new-%d", n), winStart.Add(time.Hour+time.Duration(n)*time.Millisecond))}
		}},
		{"first new, then repeats", func(n int) []string {
			if n < 3 {
				return []string{rec(fmt.Sprintf("fresh-%d", n), winStart.Add(time.Duration(n)*time.Minute))}
			}
			return []string{rec("fresh-0", winStart)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 300, neosim.Options{})
			var pages atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
					f.sim.ServeHTTP(w, r)
					return
				}
				n := int(pages.Add(1))
				q := r.URL.Query()
				q.Set("$skiptoken", fmt.Sprint(n*1000))
				next := r.URL.Path + "?" + q.Encode()
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"value":[%s],"@odata.nextLink":%q}`, strings.Join(tc.page(n), ","), next)
			})
			_, st, err := f.fetch(t, f.client(t, f.config()))
			if err == nil || errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), "the listing is not progressing") {
				t.Fatalf("got %v after %d pages", err, st.Pages)
			}
			if n := pages.Load(); n > int32(source.MaxStalledPages)+3 {
				t.Fatalf("%d pages followed; the listing stopped progressing after at most 3", n)
			}
			t.Logf("%d pages: %v", pages.Load(), err)
		})
	}
}

// TestPaddedPageCostsNothing: a page padded with whitespace up to
// max_page_bytes is decoded without holding the padding: the client
// allocates far less than the page's size.
func TestPaddedPageCostsNothing(t *testing.T) {
	f := newFixture(t, 300, neosim.Options{PageSize: 100})
	const pad = 15 << 20
	spaces := []byte(strings.Repeat(" \n\t", 64<<10/3))
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
			f.sim.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		f.sim.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		w.Header().Set("Content-Type", "application/json")
		// The padding goes between the page's members.
		i := bytes.Index(body, []byte(`"value"`))
		w.Write(body[:i])
		for n := 0; n < pad; n += len(spaces) {
			w.Write(spaces)
		}
		w.Write(body[i:])
	})
	cfg := f.config()
	cfg.MaxPageBytes = odata.DefaultMaxPageBytes
	c := f.client(t, cfg)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, st, err := f.fetch(t, c)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	// Every page carried 15 MiB of padding; the records are the same few
	// hundred KiB as without it.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(st.Pages)*pad/2 {
		t.Fatalf("%d pages padded with %d MiB each: %d MiB allocated", st.Pages, pad>>20, alloc>>20)
	}
}
