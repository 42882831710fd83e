package odata_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// echo renders what a gateway, WAF or debugging proxy that echoes the
// request headers would send back.
func echo(r *http.Request) string {
	var b strings.Builder
	for k, v := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(v, ","))
	}
	return b.String()
}

// No credential reaches an error or a log, whatever a server echoes back,
// and server text can neither forge a log line nor send terminal escapes.
func TestServerTextIsScrubbed(t *testing.T) {
	cases := []struct {
		name    string
		token   bool // the token endpoint misbehaves (else the API)
		status  int
		body    func(r *http.Request) string
		class   errclass.Class
		control bool // the body carries control characters
	}{
		{"token 401 echoes basic", true, 401, func(r *http.Request) string {
			return `{"error":"invalid_client","error_description":"` + strings.ReplaceAll(echo(r), "\n", " ") + `"}`
		}, errclass.Auth, false},
		{"token 400 echoes basic", true, 400, func(r *http.Request) string {
			return `{"error":"invalid_request","error_description":"got ` + r.Header.Get("Authorization") + ` and secret s3cr3t-Value-For-Tests"}`
		}, errclass.Permanent, false},
		{"token 500 html echo", true, 500, func(r *http.Request) string { return "<pre>" + echo(r) + "</pre>" }, errclass.Permanent, false},
		{"token 200 not json echo", true, 200, func(r *http.Request) string { return "<pre>" + echo(r) + "</pre>" }, errclass.Permanent, false},
		{"api 401 echoes bearer", false, 401, func(r *http.Request) string {
			return `{"error":{"code":"401","message":"` + strings.ReplaceAll(echo(r), "\n", " ") + `"}}`
		}, errclass.Auth, false},
		{"api 403 echoes bearer", false, 403, func(r *http.Request) string { return echo(r) }, errclass.Auth, false},
		{"api 404 echoes bearer", false, 404, func(r *http.Request) string { return echo(r) }, errclass.Permanent, false},
		{"api 400 echoes bearer", false, 400, func(r *http.Request) string {
			return `{"error":{"code":"400","message":"bad \n{\"level\":\"error\",\"message\":\"forged\"}\u001b[31m red ` + r.Header.Get("Authorization") + `"}}`
		}, errclass.Permanent, true},
		{"api 500 echoes bearer", false, 500, func(r *http.Request) string { return "upstream said:\n" + echo(r) + "\x1b]0;title\x07" }, errclass.Permanent, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 300, neosim.Options{})
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				isToken := strings.HasPrefix(r.URL.Path, "/oauth2/")
				if isToken == tc.token {
					w.WriteHeader(tc.status)
					fmt.Fprint(w, tc.body(r))
					return
				}
				f.sim.ServeHTTP(w, r)
			})
			cfg := f.config()
			cfg.MaxElapsed = 50 * time.Millisecond
			c := f.client(t, cfg)
			_, _, err := f.fetch(t, c)
			if err == nil {
				t.Fatal("want an error")
			}
			if tc.class != errclass.Permanent && errclass.Classify(err) != tc.class {
				t.Fatalf("class %v, want %v: %v", errclass.Classify(err), tc.class, err)
			}
			msg := err.Error()
			f.assertNoSecrets(t, msg)
			if strings.ContainsAny(msg, "\n\r\x1b\x07") {
				t.Fatalf("control characters reach the error: %q", msg)
			}
			if tc.control && !strings.Contains(msg+f.logs.String(), `\u001b`) && !strings.Contains(msg, `\u000a`) {
				t.Fatalf("the control characters were not shown as escapes: %q", msg)
			}
			t.Log(msg)
		})
	}
}

// Numbers the server controls never size memory or files.
func TestHostileNumbers(t *testing.T) {
	t.Run("huge count", func(t *testing.T) {
		for _, count := range []string{"999999999999999", "10000000000"} {
			f := newFixture(t, 3000, neosim.Options{PageSize: 500})
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				f.sim.ServeHTTP(rec, r)
				body := rec.Body.String()
				if strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
					body = strings.Replace(body, `"@odata.count":`, `"@odata.count":`+count+`,"x":`, 1)
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.Header().Del("Content-Length")
				w.WriteHeader(rec.Code)
				fmt.Fprint(w, body)
			})
			cfg := f.config()
			cfg.Dedupe.SpillThreshold, cfg.Dedupe.SpoolDir = 100, t.TempDir()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			_, st, err := f.fetch(t, f.client(t, cfg))
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// A count the pages do not cover: a loud, retryable failure
			// (records skipped), never a crash or thousands of files.
			if err == nil || errclass.Classify(err) != errclass.Retryable {
				t.Fatalf("count %s: got %v (%+v)", count, err, st)
			}
			if grown := after.Sys - before.Sys; grown > 256<<20 {
				t.Fatalf("count %s: memory grew by %d MiB", count, grown>>20)
			}
			if left, _ := os.ReadDir(cfg.Dedupe.SpoolDir); len(left) != 0 {
				t.Fatalf("spool files left: %d", len(left))
			}
		}
	})
	t.Run("huge expires_in", func(t *testing.T) {
		for _, ttl := range []string{"9300000000", "9223372036854775807", "99999999999999999"} {
			f := newFixture(t, 3000, neosim.Options{PageSize: 500})
			var tokens atomic.Int32
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/oauth2/") {
					tokens.Add(1)
					rec := httptest.NewRecorder()
					f.sim.ServeHTTP(rec, r)
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, strings.Replace(rec.Body.String(), `"expires_in":1500`, `"expires_in":`+ttl, 1))
					return
				}
				f.sim.ServeHTTP(w, r)
			})
			got, st, err := f.fetch(t, f.client(t, f.config()))
			if err != nil {
				t.Fatal(err)
			}
			f.assertExact(t, got)
			if tokens.Load() != 1 || st.Pages < 5 {
				t.Fatalf("expires_in %s: %d tokens for %d pages, want 1", ttl, tokens.Load(), st.Pages)
			}
		}
	})
}

// The retention comes from the configuration, else the Retention API, else
// the documented default; asking never fails a run.
func TestRetention(t *testing.T) {
	for _, c := range []struct {
		opts       neosim.Options
		configured int
		want       time.Duration
		from       string
	}{
		{neosim.Options{RetentionDays: 90}, 0, 90 * 24 * time.Hour, "api"},
		{neosim.Options{RetentionForbidden: true}, 0, 201 * 24 * time.Hour, "default"},
		{neosim.Options{RetentionDays: 90}, 30, 30 * 24 * time.Hour, "configured"},
	} {
		f := newFixture(t, 300, c.opts)
		cfg := f.config()
		cfg.RetentionDays = c.configured
		got, from := f.client(t, cfg).Retention(t.Context())
		if got != c.want || from != c.from {
			t.Fatalf("%+v: %s from %s, want %s from %s", c.opts, got, from, c.want, c.from)
		}
	}
}

// A Uuid served again with other content: the first copy is exported, the
// conflict is counted and logged with the Uuid.
func TestConflictingDuplicate(t *testing.T) {
	f := newFixture(t, 300, neosim.Options{})
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
			fmt.Fprint(w, `{"@odata.count":2,"value":[
				{"Uuid":"dup-1","Time":"2026-11-24T10.10.00.000+0000","Message":"first"},
				{"Uuid":"other","Time":"2026-11-24T10.11.00.000+0000","Message":"x"},
				{"Uuid":"dup-1","Time":"2026-11-24T10.10.00.000+0000","Message":"second"}]}`)
			return
		}
		f.sim.ServeHTTP(w, r)
	})
	got, st, err := f.fetch(t, f.client(t, f.config()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].UUID != "dup-1" || got[0].Message != "first" || st.Conflicts != 1 || st.Duplicates != 1 {
		t.Fatalf("got %+v, stats %+v", got, st)
	}
	if !strings.Contains(f.logs.String(), "different content") || !strings.Contains(f.logs.String(), `"uuid":"dup-1"`) {
		t.Fatalf("no conflict warning:\n%s", f.logs.String())
	}
}

// A 503 that carries Retry-After is throttling: it is counted and steers
// the request rate like a 429.
func TestServiceUnavailableWithRetryAfterThrottles(t *testing.T) {
	f := newFixture(t, 300, neosim.Options{})
	var n atomic.Int32
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "AuditLogRecords") && n.Add(1) <= 2 {
			if n.Load() == 1 {
				w.Header().Set("Retry-After", "0")
			}
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		f.sim.ServeHTTP(w, r)
	})
	c := f.client(t, f.config())
	got, st, err := f.fetch(t, c)
	if err != nil {
		t.Fatal(err)
	}
	f.assertExact(t, got)
	if st.Throttled != 1 || st.RetryCauses[source.CauseThrottled] != 1 || st.RetryCauses[source.CauseServerError] != 1 || c.RequestRate() == 0 {
		t.Fatalf("stats %+v, rate %v: want one throttle (the 503 with Retry-After), one server error", st, c.RequestRate())
	}
}
