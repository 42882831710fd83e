package neosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

func rec(uuid string, t time.Time, user, cat, app string) *stored {
	return &stored{rec: audit.Record{UUID: uuid, Time: t, User: user, Category: cat, Application: app}}
}

func TestParseFilter(t *testing.T) {
	t0 := time.Date(2017, 12, 30, 17, 13, 22, 0, time.UTC)
	r := rec("u", t0.Add(500*time.Millisecond), "O'Brien on behalf of B", "audit.data-access", "app")
	tests := []struct {
		filter string
		match  bool
		err    string
	}{
		// The documented example.
		{"(Time le '2017-12-30T17.13.22' or Time eq '2017-12-30T17.13.22') and User eq 'O''Brien on behalf of B'", false, ""},
		{"Time ge '2017-12-30T17.13.22' and Time lt '2017-12-30T17.13.23'", true, ""},
		{"Time gt '2017-12-30T17.13.22'", true, ""},
		{"Time le '2017-12-30T17.13.22'", false, ""},
		{"Category eq 'audit.data-access' and Application ne 'x'", true, ""},
		{"not (Category eq 'audit.data-access')", false, ""},
		{"User eq 'x' or (Application eq 'app' and Category ge 'audit')", true, ""},
		{"Message eq 'x'", false, `"Message" cannot be used`},
		{"Time eq '2017-12-30T17:13:22'", false, "format yyyy-mm-ddThh.MM.ss"},
		{"User like 'x'", false, `operator "like"`},
		{"User eq x", false, "string literal"},
		{"(User eq 'x'", false, "missing ')'"},
		{"User eq 'x", false, "unterminated"},
		{"User eq 'x' and", false, "ends where"},
		{"User eq 'x' 'y'", false, "at the end"},
		{"", false, "empty"},
		{"'x' eq User", false, "property name"},
		{"startswith(User,'x')", false, "cannot be used"},
	}
	for _, tt := range tests {
		n, err := parseFilter(tt.filter)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseFilter(%q) error %v, want %q", tt.filter, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tt.filter, err)
			continue
		}
		if got := n.eval(r); got != tt.match {
			t.Errorf("%q matched %v, want %v", tt.filter, got, tt.match)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add("(Time le '2017-12-30T17.13.22' or Time eq '2017-12-30T17.13.22') and User eq 'u'")
	f.Add("not not (Category ne 'a''b')")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseFilter(s)
		if err == nil {
			n.eval(rec("u", time.Unix(0, 0).UTC(), "", "", ""))
			timeBounds(n)
		}
	})
}

func get(t *testing.T, h http.Handler, target, token string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var body map[string]any
	b, _ := io.ReadAll(w.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: body %q is not JSON", target, b)
	}
	return w.Code, body
}

func getToken(t *testing.T, s *Server) string {
	req := httptest.NewRequest(http.MethodPost, "/oauth2/apitoken/v1?grant_type=client_credentials", nil)
	req.Header.Set("Authorization", BasicAuthHeader("id", "secret"))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 1500 {
		t.Fatalf("token response %d %s", w.Code, w.Body)
	}
	return tok.AccessToken
}

func TestPagingCountTopSkip(t *testing.T) {
	s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", PageSize: 10})
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs, _ := Generate(GenOptions{Account: "acct", From: from, To: from.Add(time.Hour), PerHour: 35, Seed: 1})
	s.Add(nil, recs...)
	tok := getToken(t, s)
	base := "/auditlog/v1/accounts/acct/AuditLogRecords"

	code, body := get(t, s, base+"?$count=true", tok)
	if code != 200 || body["@odata.count"].(float64) != 35 || len(body["value"].([]any)) != 10 {
		t.Fatalf("first page: %d %v", code, body["@odata.count"])
	}
	link := body["@odata.nextLink"].(string)
	if !strings.HasPrefix(link, "http://localhost:8001"+base+"?") || !strings.Contains(link, "%24skiptoken=10") {
		t.Fatalf("nextLink %q", link)
	}
	// Follow the links: 35 distinct records, not in time order.
	seen := map[string]bool{}
	var times []string
	for link != "" {
		u, _ := url.Parse(link)
		_, body = get(t, s, u.RequestURI(), tok)
		for _, v := range body["value"].([]any) {
			m := v.(map[string]any)
			seen[m["Uuid"].(string)] = true
			times = append(times, m["Time"].(string))
		}
		link, _ = body["@odata.nextLink"].(string)
	}
	_, first := get(t, s, base, tok)
	for _, v := range first["value"].([]any) {
		m := v.(map[string]any)
		seen[m["Uuid"].(string)] = true
		times = append(times, m["Time"].(string))
	}
	if len(seen) != 35 {
		t.Fatalf("%d distinct records via nextLinks, want 35", len(seen))
	}
	sorted := true
	for i := 1; i < len(times); i++ {
		if times[i] < times[i-1] {
			sorted = false
		}
	}
	if sorted {
		t.Fatal("records came in time order")
	}
	_, body = get(t, s, base+"?$top=5&$skip=30", tok)
	if len(body["value"].([]any)) != 5 || body["@odata.nextLink"] != nil {
		t.Fatalf("$top/$skip: %v", body)
	}
	for _, bad := range []string{"?$orderby=Time", "?$top=-1", "?$count=yes", "?$filter=Foo%20eq%20'x'"} {
		code, body := get(t, s, base+bad, tok)
		if code != 400 || body["error"] == nil {
			t.Fatalf("%s: %d %v", bad, code, body)
		}
	}
	if code, _ := get(t, s, base, ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := get(t, s, "/auditlog/v1/accounts/other/AuditLogRecords", tok); code != 403 {
		t.Fatalf("other account: %d", code)
	}
}

func TestLateRecordsBecomeVisible(t *testing.T) {
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: func() time.Time { return now }})
	from := now.Add(-time.Hour)
	recs, vis := Generate(GenOptions{Account: "acct", From: from, To: now, PerHour: 2000, Seed: 2, LateFraction: 0.2})
	s.Add(vis, recs...)
	visible := len(s.Records("acct", from, now))
	if visible >= len(recs) || visible < len(recs)/2 {
		t.Fatalf("%d of %d visible now", visible, len(recs))
	}
	now = now.Add(time.Hour)
	if got := len(s.Records("acct", from, from.Add(time.Hour))); got != len(recs) {
		t.Fatalf("%d of %d visible an hour later", got, len(recs))
	}
}

func TestGeneratedDataIsRealistic(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs, _ := Generate(GenOptions{Account: "acct", From: from, To: from.Add(2 * time.Hour), PerHour: 2000, Seed: 9})
	cats, behalf, multiline, unicode, long, inst, size := map[string]bool{}, 0, 0, 0, 0, 0, 0
	for _, r := range recs {
		cats[r.Category] = true
		if strings.Contains(r.User, "on behalf of") {
			behalf++
		}
		if strings.Contains(r.Message, "\n") {
			multiline++
		}
		if strings.ContainsAny(r.Message, "üöß顧💰") {
			unicode++
		}
		if len(r.Message) > 4000 {
			long++
		}
		if r.InstanceID != nil {
			inst++
		}
		var sb strings.Builder
		writeRecord(&sb, &r)
		size += sb.Len()
	}
	if len(cats) < 6 || behalf == 0 || multiline == 0 || unicode == 0 || long == 0 || inst == 0 {
		t.Fatalf("categories %v, behalf %d, multiline %d, unicode %d, long %d, instance %d", cats, behalf, multiline, unicode, long, inst)
	}
	if avg := size / len(recs); avg < 400 || avg > 1200 {
		t.Fatalf("average record size %d bytes", avg)
	}
	again, _ := Generate(GenOptions{Account: "acct", From: from, To: from.Add(2 * time.Hour), PerHour: 2000, Seed: 9})
	if !again[17].Equal(&recs[17]) {
		t.Fatal("same seed, different data")
	}
}

// The query cache never hides a record that became visible meanwhile.
func TestQueryCacheSeesLateRecords(t *testing.T) {
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: func() time.Time { return now }})
	from := now.Add(-time.Hour)
	recs, vis := Generate(GenOptions{Account: "acct", From: from, To: now, PerHour: 500, Seed: 3, LateFraction: 0.5})
	s.Add(vis, recs...)
	tok := getToken(t, s)
	count := func() float64 {
		_, body := get(t, s, "/auditlog/v1/accounts/acct/AuditLogRecords?$count=true&$filter=Time%20ge%20%272026-01-01T00.00.00%27", tok)
		if body["@odata.count"] == nil {
			t.Fatalf("no count: %v", body)
		}
		return body["@odata.count"].(float64)
	}
	first := count()
	if count() != first {
		t.Fatal("cached count changed without a clock change")
	}
	now = now.Add(30 * time.Minute)
	tok = getToken(t, s) // the first one expired meanwhile
	if second := count(); second <= first || int(second) != len(s.Records("acct", from, now)) {
		t.Fatalf("count %v then %v; %d visible", first, second, len(s.Records("acct", from, now)))
	}
	s.Add(nil, audit.Record{UUID: "new-one", Time: from.Add(time.Minute), Account: "acct"})
	if int(count()) != len(s.Records("acct", from, now)) {
		t.Fatal("added record not seen")
	}
}

// Each reading switch does what it says.
func TestReadings(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs, _ := Generate(GenOptions{Account: "acct", From: from, To: from.Add(time.Hour), PerHour: 400, Seed: 1})
	recs = append(recs, audit.Record{UUID: "edge", Account: "acct", Time: from.Add(30 * time.Minute)})
	base := "/auditlog/v1/accounts/acct/AuditLogRecords"
	serve := func(rd Readings) (*Server, string) {
		s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", PageSize: 50, Readings: rd})
		s.Add(nil, recs...)
		return s, getToken(t, s)
	}
	// list follows nextLinks and returns rows served, distinct Uuids, pages, the count.
	list := func(s *Server, tok, query string) (rows, distinct, pages int, count any, sizes []int, firstTimes []string) {
		seen := map[string]bool{}
		target := base + query
		for target != "" {
			_, body := get(t, s, target, tok)
			if pages == 0 {
				count = body["@odata.count"]
			}
			pages++
			vals := body["value"].([]any)
			sizes = append(sizes, len(vals))
			for _, v := range vals {
				m := v.(map[string]any)
				rows++
				seen[m["Uuid"].(string)] = true
				if pages == 1 {
					firstTimes = append(firstTimes, m["Time"].(string))
				}
			}
			link, _ := body["@odata.nextLink"].(string)
			target = ""
			if link != "" {
				u, _ := url.Parse(link)
				target = u.RequestURI()
			}
		}
		return rows, len(seen), pages, count, sizes, firstTimes
	}
	n := len(recs)

	s, tok := serve(Readings{StoredDuplicates: 0.1})
	rows, distinct, _, count, _, _ := list(s, tok, "?$count=true")
	if distinct != n || rows <= n || count.(float64) != float64(n) {
		t.Fatalf("count=distinct: %d rows, %d distinct, count %v; want %d distinct counted, more rows", rows, distinct, count, n)
	}
	if got := len(s.Records("acct", from, from.Add(time.Hour))); got != n {
		t.Fatalf("ground truth holds %d records, want %d (stored copies are one record)", got, n)
	}
	s, tok = serve(Readings{Count: CountRows, StoredDuplicates: 0.1})
	rows, _, _, count, _, _ = list(s, tok, "?$count=true")
	if count.(float64) != float64(rows) || rows <= n {
		t.Fatalf("count=rows: count %v, %d rows", count, rows)
	}
	s, tok = serve(Readings{Count: CountNone})
	if _, _, _, count, _, _ = list(s, tok, "?$count=true"); count != nil {
		t.Fatalf("count=none sent %v", count)
	}
	s, tok = serve(Readings{ShrinkingPages: true})
	_, distinct, _, _, sizes, _ := list(s, tok, "")
	if distinct != n || sizes[0] != 50 || sizes[1] >= 50 {
		t.Fatalf("shrinking pages: sizes %v, %d distinct", sizes, distinct)
	}
	s, tok = serve(Readings{NewestFirst: true})
	_, _, _, _, _, times := list(s, tok, "")
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] {
			t.Fatalf("newest first: %s after %s", times[i], times[i-1])
		}
	}
	s, tok = serve(Readings{NextLinkDropsFilter: true})
	_, body := get(t, s, base+"?$filter="+url.QueryEscape("Time ge '2026-01-01T00.10.00'")+"&$count=true", tok)
	if link := body["@odata.nextLink"].(string); strings.Contains(link, "filter") || !strings.Contains(link, "skiptoken") {
		t.Fatalf("nextLink keeps the filter: %s", link)
	}
	at := url.QueryEscape("Time ge '2026-01-01T00.30.00' and Time le '2026-01-01T00.30.00'")
	for _, c := range []struct {
		rd   Readings
		want float64
	}{{Readings{}, 1}, {Readings{ExclusiveBounds: true}, 0}} {
		s, tok = serve(c.rd)
		if _, body := get(t, s, base+"?$filter="+at+"&$count=true", tok); body["@odata.count"].(float64) != c.want {
			t.Fatalf("%s: a record exactly on both bounds counted %v, want %v", c.rd, body["@odata.count"], c.want)
		}
	}
	for _, in := range []string{"documented", "all-odd", "count=rows,stored-duplicates=0.05,newest-first"} {
		rd, err := ParseReadings(in)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := ParseReadings(rd.String()); again != rd {
			t.Fatalf("%q: %v does not round-trip", in, rd)
		}
	}
	for _, bad := range []string{"count=maybe", "stored-duplicates=2", "sideways"} {
		if _, err := ParseReadings(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// Retry-After comes as seconds, an HTTP date, or not at all.
func TestRetryAfterForms(t *testing.T) {
	for form, check := range map[string]func(string) bool{
		"7":    func(v string) bool { return v == "7" },
		"date": func(v string) bool { _, err := http.ParseTime(v); return err == nil },
		"none": func(v string) bool { return v == "" },
	} {
		s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret"})
		tok := getToken(t, s)
		s.SetFaults(Faults{Rate429: 1, RetryAfter: form})
		req := httptest.NewRequest(http.MethodGet, "/auditlog/v1/accounts/acct/AuditLogRecords", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 429 || !check(w.Header().Get("Retry-After")) {
			t.Fatalf("%s: %d, Retry-After %q", form, w.Code, w.Header().Get("Retry-After"))
		}
	}
}

// The Retention API answers the configured days, or 403 without the scope.
func TestRetentionAPI(t *testing.T) {
	for _, c := range []struct {
		opts Options
		code int
		days float64
	}{{Options{}, 200, 201}, {Options{RetentionDays: 90}, 200, 90}, {Options{RetentionForbidden: true}, 403, 0}} {
		c.opts.Accounts, c.opts.ClientID, c.opts.ClientSecret = []string{"acct"}, "id", "secret"
		s := New(c.opts)
		code, body := get(t, s, "/auditlog/v1/retention/accounts/acct/AuditLogRetention", getToken(t, s))
		if code != c.code || (code == 200 && body["retention"].(float64) != c.days) {
			t.Fatalf("%+v: %d %v", c.opts, code, body)
		}
	}
}

// With a client per account, a token reads its own account only.
func TestPerAccountClients(t *testing.T) {
	s := New(Options{Accounts: []string{"a1", "a2"}, ClientID: "id", ClientSecret: "sec", PerAccountClients: true})
	token := func(id, secret string) (string, int) {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/apitoken/v1?grant_type=client_credentials", nil)
		req.Header.Set("Authorization", BasicAuthHeader(id, secret))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return body.AccessToken, rec.Code
	}
	get := func(tok, account string) int {
		req := httptest.NewRequest(http.MethodGet, "/auditlog/v1/accounts/"+account+"/AuditLogRecords", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	if _, code := token("id", "sec"); code != http.StatusUnauthorized {
		t.Fatalf("the shared client got a token: %d", code)
	}
	if _, code := token("id-a1", "sec-a2"); code != http.StatusUnauthorized {
		t.Fatalf("another account's secret got a token: %d", code)
	}
	tok, code := token("id-a1", "sec-a1")
	if code != http.StatusOK || get(tok, "a1") != http.StatusOK || get(tok, "a2") != http.StatusForbidden {
		t.Fatalf("token %d; a1 %d; a2 %d", code, get(tok, "a1"), get(tok, "a2"))
	}
}

// The gateways refuse with 429 and the configured Retry-After: the token
// bucket by the server's clock (here a fake one), the counting gateway by
// request count alone, the same whatever the clock does.
func TestGateways(t *testing.T) {
	serve := func(s *Server, tok string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/auditlog/v1/accounts/acct/AuditLogRecords", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w.Code, w.Header().Get("Retry-After")
	}
	pattern := func(s *Server, tok string, n int, step func()) string {
		var b strings.Builder
		for range n {
			code, _ := serve(s, tok)
			b.WriteByte(map[int]byte{200: '.', 429: 'x'}[code])
			step()
		}
		return b.String()
	}
	t.Run("token bucket", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: func() time.Time { return now }})
		tok := getToken(t, s)
		s.SetFaults(Faults{GatewayRate: 10, GatewayBurst: 3, GatewayRetryAfter: "2"})
		// A burst of 3, then one request per 100 ms of the clock.
		if got := pattern(s, tok, 6, func() {}); got != "...xxx" {
			t.Fatalf("at a standing clock: %s, want ...xxx", got)
		}
		now = now.Add(100 * time.Millisecond)
		if got := pattern(s, tok, 4, func() { now = now.Add(50 * time.Millisecond) }); got != ".x.x" {
			t.Fatalf("at 20 requests a second: %s, want .x.x", got)
		}
		// The last step refilled one token: one passes, the next is refused.
		if got := pattern(s, tok, 1, func() {}); got != "." {
			t.Fatalf("after the last step: %s, want .", got)
		}
		if code, ra := serve(s, tok); code != 429 || ra != "2" {
			t.Fatalf("refused with %d, Retry-After %q", code, ra)
		}
	})
	t.Run("counting", func(t *testing.T) {
		s := New(Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret"})
		tok := getToken(t, s)
		s.SetFaults(Faults{GatewayAdmit: 3, GatewayRefuse: 2, GatewayRetryAfter: "none"})
		if got := pattern(s, tok, 12, func() { time.Sleep(time.Millisecond) }); got != "...xx...xx.." {
			t.Fatalf("admit 3, refuse 2: %s", got)
		}
		if c := s.Counters(); c.Faults["gateway-429"] != 4 {
			t.Fatalf("counted %d refusals, want 4", c.Faults["gateway-429"])
		}
		s.SetFaults(Faults{GatewayAdmit: 2, GatewayRetryAfter: "1"}) // refuse defaults to 1; a new cycle
		if got := pattern(s, tok, 6, func() {}); got != "..x..x" {
			t.Fatalf("admit 2: %s", got)
		}
		if code, ra := serve(s, tok); code != 200 || ra != "" {
			t.Fatalf("seventh request: %d, Retry-After %q", code, ra)
		}
		if code, ra := serve(s, tok); code != 200 {
			t.Fatalf("eighth request: %d, Retry-After %q", code, ra)
		}
		if code, ra := serve(s, tok); code != 429 || ra != "1" {
			t.Fatalf("ninth request: %d, Retry-After %q", code, ra)
		}
	})
}
