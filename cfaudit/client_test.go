package cfaudit_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/rs/zerolog"
)

var winStart = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func newClient(t *testing.T, sim *cfsim.Server, logs *bytes.Buffer) *cfaudit.Client {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := cfaudit.New(cfaudit.Config{Account: "my-sub", Key: cfaudit.ServiceKey{URL: srv.URL, UAA: cfaudit.UAA{URL: srv.URL, ClientID: clientID, ClientSecret: clientSecret}},
		InitialBackoff: time.Millisecond, MaxElapsed: 20 * time.Second, Timeout: 5 * time.Second}, zerolog.New(zerolog.SyncWriter(logs)).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Throttling, server errors and pages cut short, with several pages a
// window: every record of the window exactly once, the causes counted,
// and neither the secret nor a token in the logs.
func TestFetchUnderFaults(t *testing.T) {
	sim := cfsim.New(cfsim.Options{ClientID: clientID, ClientSecret: clientSecret, Seed: 11, PageSize: 40, Readings: cfsim.Readings{StoredDuplicates: 0.05}})
	recs := cfsim.Generate("my-sub", winStart.Add(-10*time.Minute), winStart.Add(70*time.Minute), 1500, 5)
	sim.Add(recs...)
	sim.SetFaults(cfsim.Faults{Rate429: 0.04, Rate5xx: 0.2, Truncate: 0.05, RetryAfter: "none"})
	var logs bytes.Buffer
	c := newClient(t, sim, &logs)
	w := audit.Window{Account: "my-sub", Start: winStart, End: winStart.Add(time.Hour)}
	got := map[string]audit.Record{}
	st, err := c.Fetch(context.Background(), w, func(r *audit.Record) error {
		if _, dup := got[r.UUID]; dup {
			t.Fatalf("%s emitted twice", r.UUID)
		}
		got[r.UUID] = *r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range recs {
		if !w.Contains(recs[i].Time) {
			continue
		}
		want++
		r, ok := got[recs[i].UUID]
		if !ok || !r.Equal(&recs[i]) {
			t.Fatalf("record %s: got %+v (found %v), want %+v", recs[i].UUID, r, ok, recs[i])
		}
	}
	if len(got) != want || st.Completeness != source.CompletenessUncounted || st.ServerCount != -1 || st.Duplicates == 0 {
		t.Fatalf("%d records, want %d; stats %+v", len(got), want, st)
	}
	f := sim.Counters().Faults
	if f["429"] == 0 || f["5xx"] == 0 || st.RetryCauses[source.CauseThrottled] == 0 || st.RetryCauses[source.CauseServerError] == 0 {
		t.Fatalf("faults %v, retry causes %v", f, st.RetryCauses)
	}
	for _, s := range append([]string{clientSecret}, c.IssuedTokens()...) {
		if strings.Contains(logs.String(), s) {
			t.Fatal("a credential or token in the logs")
		}
	}
}

// A token that expires mid-window is renewed once on 401 and the window
// completes.
func TestTokenRenewedOn401(t *testing.T) {
	now := winStart.Add(2 * time.Hour)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sim := cfsim.New(cfsim.Options{ClientID: clientID, ClientSecret: clientSecret, PageSize: 50, TokenTTL: time.Hour, Now: clock})
	sim.Add(cfsim.Generate("my-sub", winStart, winStart.Add(time.Hour), 300, 2)...)
	var logs bytes.Buffer
	c := newClient(t, sim, &logs)
	w := audit.Window{Account: "my-sub", Start: winStart, End: winStart.Add(time.Hour)}
	n := 0
	_, err := c.Fetch(context.Background(), w, func(*audit.Record) error {
		if n++; n == 100 {
			mu.Lock()
			now = now.Add(2 * time.Hour) // the server now sees the token expired
			mu.Unlock()
		}
		return nil
	})
	if err != nil || n != 300 || sim.Counters().Tokens != 2 {
		t.Fatalf("%d records, %d tokens, %v", n, sim.Counters().Tokens, err)
	}
}

// Refused credentials: an auth error naming what to check, after one try.
func TestRefusedCredentials(t *testing.T) {
	sim := cfsim.New(cfsim.Options{ClientID: clientID, ClientSecret: "another"})
	var logs bytes.Buffer
	c := newClient(t, sim, &logs)
	err := c.Token(context.Background())
	if errclass.Classify(err) != errclass.Auth || !strings.Contains(err.Error(), "service key") || strings.Contains(err.Error(), clientSecret) {
		t.Fatalf("got %v (%v)", err, errclass.Classify(err))
	}
}
