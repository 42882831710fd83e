package cfaudit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/rs/zerolog"
)

// A server whose listing never ends fails the window loudly and
// permanently, whichever way it never ends.
func TestHostilePaging(t *testing.T) {
	page := func(i int) string {
		return fmt.Sprintf(`[{"message_uuid":"u%d","time":"2026-11-24T10:30:00Z","message":"m"}]`, i)
	}
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, n int) // the n-th records request
		says   string
	}{
		{"the same handle again", func(w http.ResponseWriter, n int) {
			w.Header().Set("Paging", "handle=QUJD")
			fmt.Fprint(w, page(n))
		}, "the paging handle repeats"},
		{"empty pages that hand out handles", func(w http.ResponseWriter, n int) {
			w.Header().Set("Paging", fmt.Sprintf("handle=h%d=", n))
			fmt.Fprint(w, "[]")
		}, "pages in a row without records"},
		{"new handles forever", func(w http.ResponseWriter, n int) {
			w.Header().Set("Paging", fmt.Sprintf("handle=h%d==", n))
			fmt.Fprint(w, page(n))
		}, "more than 20 pages"},
		{"a handle with a space", func(w http.ResponseWriter, n int) {
			w.Header().Set("Paging", "handle=a b")
			fmt.Fprint(w, page(n))
		}, "not an opaque token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := cfsim.New(cfsim.Options{ClientID: clientID, ClientSecret: clientSecret})
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" {
					sim.ServeHTTP(w, r)
					return
				}
				n++
				tc.answer(w, n)
			}))
			defer srv.Close()
			c, err := cfaudit.New(cfaudit.Config{Account: "a", MaxPagesPerWindow: 20, InitialBackoff: time.Millisecond, MaxElapsed: 5 * time.Second,
				Key: cfaudit.ServiceKey{URL: srv.URL, UAA: cfaudit.UAA{URL: srv.URL, ClientID: clientID, ClientSecret: clientSecret}}}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			w := audit.Window{Account: "a", Start: winStart, End: winStart.Add(time.Hour)}
			_, err = c.Fetch(context.Background(), w, func(*audit.Record) error { return nil })
			if err == nil || errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v (class %v), want a permanent error saying %q", err, errclass.Classify(err), tc.says)
			}
			if n > 21 {
				t.Fatalf("%d requests: the guard came late", n)
			}
		})
	}
}

// Fresh handles that serve only records already served, or only records
// outside the window, fail the window after source.MaxStalledPages pages,
// long before source.max_pages_per_window.
func TestNoProgressPaging(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(n int) string
	}{
		{"the same record again", func(int) string { return `[{"message_uuid":"same","time":"2026-11-24T10:30:00Z","message":"m"}]` }},
		{"records outside the window", func(n int) string {
			return fmt.Sprintf(`[{"message_uuid":"o%d","time":"2026-11-24T09:59:59Z","message":"m"},{"message_uuid":"p%d","time":"2026-11-24T11:00:00Z","message":"m"}]`, n, n)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := cfsim.New(cfsim.Options{ClientID: clientID, ClientSecret: clientSecret})
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" {
					sim.ServeHTTP(w, r)
					return
				}
				n++
				w.Header().Set("Paging", fmt.Sprintf("handle=fresh%d==", n))
				fmt.Fprint(w, tc.body(n))
			}))
			defer srv.Close()
			c, err := cfaudit.New(cfaudit.Config{Account: "a", InitialBackoff: time.Millisecond, MaxElapsed: 5 * time.Second,
				Key: cfaudit.ServiceKey{URL: srv.URL, UAA: cfaudit.UAA{URL: srv.URL, ClientID: clientID, ClientSecret: clientSecret}}}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			w := audit.Window{Account: "a", Start: winStart, End: winStart.Add(time.Hour)}
			_, err = c.Fetch(context.Background(), w, func(*audit.Record) error { return nil })
			if err == nil || errclass.Classify(err) != errclass.Permanent || !strings.Contains(err.Error(), "the listing is not progressing") {
				t.Fatalf("got %v after %d pages", err, n)
			}
			if n > source.MaxStalledPages+1 {
				t.Fatalf("%d pages followed", n)
			}
		})
	}
}
