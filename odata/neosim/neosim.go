// Package neosim simulates the SAP BTP Neo platform API endpoints the
// exporter uses: the OAuth token endpoint and the Audit Log Retrieval API
// (OData v4), with the documented formats, paging and $filter subset, plus
// switchable faults. It serves tests, the demo and benchmarks over real HTTP.
package neosim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// Options configures a Server.
type Options struct {
	// Accounts the credentials may read; any other account gets 403.
	Accounts []string
	// PerAccountClients gives every account its own API client, as a
	// global account's subaccounts have: client id ClientID+"-"+account,
	// secret ClientSecret+"-"+account, and a token reads only its account.
	PerAccountClients bool
	ClientID          string
	ClientSecret      string
	// TokenTTL is the expires_in of issued tokens; default 1500s.
	TokenTTL time.Duration
	// PageSize is the server page size; default 1000.
	PageSize int
	// NextLinkOrigin is the scheme://host of @odata.nextLink; default
	// http://localhost:8001, as in SAP's documented example.
	NextLinkOrigin string
	// Now is the server clock (record visibility, token expiry); default time.Now.
	Now func() time.Time
	// Seed makes faults and generated data repeatable.
	Seed uint64
	// Readings answers the questions SAP's documentation leaves open.
	Readings Readings
	// RetentionDays is what the Retention API answers (default 201);
	// RetentionForbidden answers it 403, as for a client without the scope
	// "Manage Audit Logs".
	RetentionDays      int
	RetentionForbidden bool
}

// Faults are switched on and off while the server runs. Rates are
// probabilities per API request (0..1).
type Faults struct {
	Latency       time.Duration // added to every API response
	Rate429       float64       // 429 Too Many Requests with Retry-After
	RetryAfter    string        // Retry-After sent with 429/503: seconds (default "1"), "date" (an HTTP date 1s ahead) or "none"
	Rate5xx       float64       // 500, 502 or 503
	RateDrop      float64       // close the connection without a response
	RateTruncate  float64       // send half the body, then close
	RateHTML      float64       // 200 with an HTML proxy page
	TokenMaxUses  int           // a token dies after this many API requests (early expiry); 0 = off
	RateDuplicate float64       // a page also carries a copy of a record already served
	ForeignOrigin string        // nextLinks point at this origin instead of NextLinkOrigin
	Token429      int           // the next N token requests get 429
	// Gateway puts a token bucket in front of the API, as an API gateway
	// does: GatewayRate requests per second, bursts of GatewayBurst
	// (default: one second's worth); beyond it 429 with
	// GatewayRetryAfter (seconds, "date", or "" / "none" for no header).
	// 0: no gateway.
	GatewayRate       float64
	GatewayBurst      int
	GatewayRetryAfter string
	// GatewayAdmit puts a counting gateway in front of the API, which
	// refuses by request count, not by time, so it throttles a fast
	// client and a slow one alike: of every GatewayAdmit+GatewayRefuse
	// API requests the first GatewayAdmit pass and the next GatewayRefuse
	// (default 1) get 429 with GatewayRetryAfter, as a bucket of
	// GatewayAdmit found empty. 0: no counting gateway. With GatewayRate
	// too, a request must pass both.
	GatewayAdmit  int
	GatewayRefuse int
}

// Counters report what the server did.
type Counters struct {
	TokenRequests int
	TokensIssued  int
	APIRequests   int
	Pages         int // responses served (count-only ones included)
	Counts        int // count-only requests ($top=0)
	// FirstAPIRequest and LastAPIRequest are when the first and the
	// latest API request (served or refused) arrived, by the wall clock:
	// the time a client spent on the API, for benchmarks of its rate.
	FirstAPIRequest, LastAPIRequest time.Time
	Faults                          map[string]int
	// MaxConcurrent is the most record requests served at once (a window
	// has at most one in flight: pages follow one another).
	MaxConcurrent int
}

type stored struct {
	rec       audit.Record
	visibleAt time.Time
	order     uint64 // stable non-time order of the collection
	json      []byte // the record as the API renders it
	copy      bool   // a second stored row of a record (Readings.StoredDuplicates)
}

// cached is the ordered result of one query, valid until a record in its
// range becomes visible or records are added.
type cached struct {
	matched    []*stored
	copies     int       // second stored rows among matched
	validUntil time.Time // zero: no hidden record pending
	generation int
}

type issued struct {
	expires time.Time
	uses    int
	account string // PerAccountClients: the only account the token reads
}

// Server is the simulated API. Create it with New; it is an http.Handler.
type Server struct {
	opts Options

	mu      sync.Mutex
	records map[string][]*stored // per account, sorted by Time
	tokens  map[string]*issued
	// issuedTokens lists every token ever issued, expired ones included.
	issuedTokens []string
	faults       Faults
	rng          *mrand.Rand
	counters     Counters
	concurrent   int // record requests being served
	// queries caches ordered query results; generation counts Add calls.
	queries    map[string]*cached
	generation int
	// the gateway's token bucket
	gwTokens float64
	gwLast   time.Time
	// requests the counting gateway has seen since its faults were set
	gwSeen int
}

// New returns a Server with no records.
func New(opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 1500 * time.Second
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.NextLinkOrigin == "" {
		opts.NextLinkOrigin = "http://localhost:8001"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts:     opts,
		records:  map[string][]*stored{},
		tokens:   map[string]*issued{},
		queries:  map[string]*cached{},
		rng:      mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		counters: Counters{Faults: map[string]int{}},
	}
}

// SetFaults replaces the active faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.gwSeen = 0 // the counting gateway starts a new cycle
}

// Counters returns a copy of the server's counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	c.Faults = maps.Clone(s.counters.Faults)
	return c
}

// IssuedTokens returns every access token the server has issued, so tests
// can prove none of them leaks into logs or output.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issuedTokens)
}

// Add stores records; each becomes visible at its visibleAt time (zero: at once).
func (s *Server) Add(visibleAt func(audit.Record) time.Time, recs ...audit.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
	for _, r := range recs {
		st := &stored{rec: r, order: orderOf(r.UUID)}
		st.rec.Time = r.Time.UTC()
		var b strings.Builder
		writeRecord(&b, &st.rec)
		st.json = []byte(b.String())
		if visibleAt != nil {
			st.visibleAt = visibleAt(r)
		}
		s.records[r.Account] = append(s.records[r.Account], st)
		if p := s.opts.Readings.StoredDuplicates; p > 0 && float64(st.order%1_000_000) < p*1_000_000 {
			dup := *st
			dup.copy = true
			s.records[r.Account] = append(s.records[r.Account], &dup)
		}
	}
	for acct := range s.records {
		list := s.records[acct]
		sort.SliceStable(list, func(i, j int) bool { return list[i].rec.Time.Before(list[j].rec.Time) })
	}
}

func orderOf(uuid string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(uuid))
	return h.Sum64()
}

// Records returns the records of account with Time in [start, end) that are
// visible now, in time order: the ground truth tests compare exports with.
func (s *Server) Records(account string, start, end time.Time) []audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var out []audit.Record
	for _, st := range s.records[account] {
		if !st.copy && !st.rec.Time.Before(start) && st.rec.Time.Before(end) && !now.Before(st.visibleAt) {
			out = append(out, st.rec)
		}
	}
	return out
}

// ServeHTTP routes the token endpoint and the records collection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim/counters" {
		// Not part of the API: what the simulator did, for benchmarks.
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Counters())
		return
	}
	if strings.HasPrefix(r.URL.Path, "/auditlog/") {
		s.mu.Lock()
		at := time.Now()
		if s.counters.FirstAPIRequest.IsZero() {
			s.counters.FirstAPIRequest = at
		}
		s.counters.LastAPIRequest = at
		s.mu.Unlock()
	}
	if strings.HasPrefix(r.URL.Path, "/auditlog/") && !s.gatewayAdmits() {
		s.mu.Lock()
		ra := s.faults.GatewayRetryAfter
		now := s.opts.Now()
		s.mu.Unlock()
		switch ra {
		case "", "none":
		case "date":
			w.Header().Set("Retry-After", now.Add(time.Second).UTC().Format(http.TimeFormat))
		default:
			w.Header().Set("Retry-After", ra)
		}
		odataError(w, http.StatusTooManyRequests, "429", "Rate limit exceeded")
		return
	}
	switch {
	case r.URL.Path == "/oauth2/apitoken/v1":
		s.serveToken(w, r)
	case strings.HasPrefix(r.URL.Path, "/auditlog/v1/retention/accounts/") && strings.HasSuffix(r.URL.Path, "/AuditLogRetention"):
		s.serveRetention(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/auditlog/v1/retention/accounts/"), "/AuditLogRetention"))
	case strings.HasPrefix(r.URL.Path, "/auditlog/v1/accounts/") && strings.HasSuffix(r.URL.Path, "/AuditLogRecords"):
		acct := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/auditlog/v1/accounts/"), "/AuditLogRecords")
		if acct == "" || strings.Contains(acct, "/") {
			odataError(w, http.StatusNotFound, "404", "Resource not found")
			return
		}
		s.serveRecords(w, r, acct)
	default:
		odataError(w, http.StatusNotFound, "404", "Resource not found for the segment '"+r.URL.Path+"'")
	}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counters.TokenRequests++
	throttle := s.faults.Token429 > 0
	if throttle {
		s.faults.Token429--
		s.counters.Faults["token-429"]++
	}
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if throttle {
		w.Header().Set("Retry-After", "0")
		oauthError(w, http.StatusTooManyRequests, "too_many_requests", "rate limit exceeded")
		return
	}
	_ = r.ParseForm()
	if r.Form.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret, ok := r.BasicAuth()
	account := ""
	if s.opts.PerAccountClients {
		var known bool
		account, known = strings.CutPrefix(id, s.opts.ClientID+"-")
		ok = ok && known && slices.Contains(s.opts.Accounts, account) && secret == s.opts.ClientSecret+"-"+account
		id, secret = s.opts.ClientID, s.opts.ClientSecret
	}
	if !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret || id == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2/apitoken"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Bad credentials")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = &issued{expires: s.opts.Now().Add(s.opts.TokenTTL), account: account}
	s.issuedTokens = append(s.issuedTokens, tok)
	s.counters.TokensIssued++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
		"scope":        "hcp.readAuditLogs",
	})
}

// serveRetention answers the Retention API: {"retention": <days>}.
func (s *Server) serveRetention(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	authErr := s.checkToken(r, 0)
	s.mu.Unlock()
	switch {
	case authErr != "":
		odataError(w, http.StatusUnauthorized, "401", authErr)
	case s.opts.RetentionForbidden || !slices.Contains(s.opts.Accounts, account):
		odataError(w, http.StatusForbidden, "403", "Insufficient scope: Manage Audit Logs")
	default:
		days := s.opts.RetentionDays
		if days <= 0 {
			days = 201
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"retention":%d}`, days)
	}
}

// gatewayAdmits takes a token from the gateway's bucket and counts the
// request at the counting gateway, if there are gateways; false means the
// request is refused.
func (s *Server) gatewayAdmits() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.faults.GatewayAdmit; n > 0 {
		k := max(1, s.faults.GatewayRefuse)
		s.gwSeen++
		if (s.gwSeen-1)%(n+k) >= n {
			s.counters.Faults["gateway-429"]++
			return false
		}
	}
	rate := s.faults.GatewayRate
	if rate <= 0 {
		return true
	}
	burst := float64(s.faults.GatewayBurst)
	if burst <= 0 {
		burst = max(1, rate)
	}
	now := s.opts.Now()
	if s.gwLast.IsZero() {
		s.gwTokens = burst
	} else {
		s.gwTokens = min(burst, s.gwTokens+now.Sub(s.gwLast).Seconds()*rate)
	}
	s.gwLast = now
	if s.gwTokens >= 1 {
		s.gwTokens--
		return true
	}
	s.counters.Faults["gateway-429"]++
	return false
}

// BasicAuthHeader is what a client sends for id:secret (for tests).
func BasicAuthHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func (s *Server) serveRecords(w http.ResponseWriter, r *http.Request, account string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		odataError(w, http.StatusMethodNotAllowed, "405", "Method not allowed")
		return
	}
	s.mu.Lock()
	s.counters.APIRequests++
	if r.URL.Query().Get("$top") == "0" {
		s.counters.Counts++
	}
	s.concurrent++
	s.counters.MaxConcurrent = max(s.counters.MaxConcurrent, s.concurrent)
	defer func() { s.mu.Lock(); s.concurrent--; s.mu.Unlock() }()
	f := s.faults
	roll := func(name string, p float64) bool {
		if p > 0 && s.rng.Float64() < p {
			s.counters.Faults[name]++
			return true
		}
		return false
	}
	fault := ""
	switch {
	case roll("429", f.Rate429):
		fault = "429"
	case roll("5xx", f.Rate5xx):
		fault = "5xx"
	case roll("drop", f.RateDrop):
		fault = "drop"
	case roll("truncate", f.RateTruncate):
		fault = "truncate"
	case roll("html", f.RateHTML):
		fault = "html"
	}
	dupe := roll("duplicate", f.RateDuplicate)
	code5xx := []int{500, 502, 503}[s.rng.IntN(3)]
	authErr := s.checkToken(r, f.TokenMaxUses)
	otherAccount := s.tokenForOther(r, account)
	now := s.opts.Now()
	s.mu.Unlock()

	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if authErr != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		odataError(w, http.StatusUnauthorized, "401", authErr)
		return
	}
	if !slices.Contains(s.opts.Accounts, account) || otherAccount {
		odataError(w, http.StatusForbidden, "403", "Access to account '"+account+"' is forbidden")
		return
	}
	retryAfter := f.RetryAfter
	switch retryAfter {
	case "":
		retryAfter = "1"
	case "date":
		retryAfter = now.Add(time.Second).UTC().Format(http.TimeFormat)
	}
	switch fault {
	case "429":
		if retryAfter != "none" {
			w.Header().Set("Retry-After", retryAfter)
		}
		odataError(w, http.StatusTooManyRequests, "429", "Too many requests")
		return
	case "5xx":
		if code5xx == 503 && retryAfter != "none" {
			w.Header().Set("Retry-After", retryAfter)
		}
		odataError(w, code5xx, strconv.Itoa(code5xx), "Internal error, try again later")
		return
	case "drop":
		hijackClose(w)
		return
	case "html":
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>Gateway</title></head><body><h1>Please sign in</h1></body></html>")
		return
	}

	body, status, err := s.page(r.URL, account, now, dupe, f.ForeignOrigin)
	if err != nil {
		odataError(w, status, strconv.Itoa(status), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	if fault == "truncate" {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		hijackClose(w)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// tokenForOther reports whether the request's token was issued for
// another account (PerAccountClients); s.mu is held.
func (s *Server) tokenForOther(r *http.Request, account string) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	it := s.tokens[tok]
	return s.opts.PerAccountClients && it != nil && it.account != account
}

// checkToken validates the bearer token; s.mu is held.
func (s *Server) checkToken(r *http.Request, maxUses int) string {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return "Full authentication is required to access this resource"
	}
	it := s.tokens[tok]
	if it == nil {
		return "Invalid access token"
	}
	if !s.opts.Now().Before(it.expires) {
		delete(s.tokens, tok)
		return "Access token expired"
	}
	it.uses++
	if maxUses > 0 && it.uses > maxUses {
		delete(s.tokens, tok)
		s.counters.Faults["token-expired-early"]++
		return "Access token expired"
	}
	return ""
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

var supportedOptions = map[string]bool{"$filter": true, "$top": true, "$skip": true, "$count": true, "$skiptoken": true, "$format": true}

// page renders the page the request URL asks for.
func (s *Server) page(u *url.URL, account string, now time.Time, dupe bool, foreign string) ([]byte, int, error) {
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "$") && !supportedOptions[k] {
			//lint:ignore ST1005 the words of the API's own error message, which clients see
			return nil, http.StatusBadRequest, fmt.Errorf("The query option '%s' is not supported", k)
		}
	}
	var pred node
	if f := q.Get("$filter"); q.Has("$filter") {
		var err error
		if pred, err = parseFilter(f); err != nil {
			return nil, http.StatusBadRequest, err
		}
		if s.opts.Readings.ExclusiveBounds {
			pred = exclusiveTime(pred)
		}
	}
	intParam := func(name string, def int) (int, error) {
		if !q.Has(name) {
			return def, nil
		}
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < 0 {
			//lint:ignore ST1005 the words of the API's own error message, which clients see
			return 0, fmt.Errorf("The value '%s' of %s is not a non-negative integer", q.Get(name), name)
		}
		return n, nil
	}
	top, err := intParam("$top", -1)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	skip, err := intParam("$skip", 0)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	skiptoken, err := intParam("$skiptoken", 0)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	count := false
	switch q.Get("$count") {
	case "", "false":
	case "true":
		count = true
	default:
		//lint:ignore ST1005 the words of the API's own error message, which clients see
		return nil, http.StatusBadRequest, fmt.Errorf("The value '%s' of $count must be true or false", q.Get("$count"))
	}

	rd := s.opts.Readings
	matched, copies := s.query(account, q.Get("$filter"), pred, now)
	total := len(matched)
	sel := matched[min(skip, total):]
	if top >= 0 && top < len(sel) {
		sel = sel[:top]
	}
	size := s.opts.PageSize
	if rd.ShrinkingPages && skiptoken > 0 {
		// A byte-limited server: later pages carry fewer records.
		size = max(1, size/3+int(uint(skiptoken)%7))
	}
	start := min(skiptoken, len(sel))
	end := min(start+size, len(sel))
	pageRecs := sel[start:end]
	var extra *stored
	if dupe && end > 0 {
		s.mu.Lock()
		extra = sel[s.rng.IntN(end)]
		s.mu.Unlock()
	}

	var b strings.Builder
	b.Grow(600 * (len(pageRecs) + 1))
	b.WriteString(`{"@odata.context":"$metadata#AuditLogRecords",`)
	if count && rd.Count != CountNone {
		n := total
		if rd.Count == CountDistinct {
			n -= copies
		}
		b.WriteString(`"@odata.count":` + strconv.Itoa(n) + `,`)
	}
	b.WriteString(`"value":[`)
	for i, st := range pageRecs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(st.json)
	}
	if extra != nil {
		if len(pageRecs) > 0 {
			b.WriteByte(',')
		}
		b.Write(extra.json)
	}
	b.WriteString(`]`)
	if end < len(sel) {
		origin := s.opts.NextLinkOrigin
		if foreign != "" {
			origin = foreign
		}
		nq := url.Values{}
		for k, v := range q {
			if rd.NextLinkDropsFilter && k != "$count" {
				continue
			}
			nq[k] = v
		}
		nq.Set("$skiptoken", strconv.Itoa(end))
		path := u.EscapedPath()
		switch {
		case rd.NextLinkOtherHost:
			origin = otherHostOrigin
		case rd.NextLinkOtherPath:
			path = otherPathPrefix + path
		}
		link := origin + path + "?" + strings.ReplaceAll(nq.Encode(), "+", "%20")
		lb, _ := json.Marshal(link)
		b.WriteString(`,"@odata.nextLink":`)
		b.Write(lb)
	}
	b.WriteString(`}`)
	s.mu.Lock()
	s.counters.Pages++
	s.mu.Unlock()
	return []byte(b.String()), http.StatusOK, nil
}

// query returns the records of account matching pred and visible at now,
// in the collection's (non-time) order. Results are cached per filter until
// a matching record in range becomes visible or records are added, so
// paging through a large window does not sort it once per page.
func (s *Server) query(account, filter string, pred node, now time.Time) (matched []*stored, copies int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := account + "\x00" + filter
	if c := s.queries[key]; c != nil && c.generation == s.generation && (c.validUntil.IsZero() || now.Before(c.validUntil)) {
		return c.matched, c.copies
	}
	all := s.records[account]
	lo, hi := 0, len(all)
	if pred != nil {
		if tlo, thi, ok := timeBounds(pred); ok {
			if !tlo.IsZero() {
				lo = sort.Search(len(all), func(i int) bool { return !all[i].rec.Time.Before(tlo) })
			}
			if !thi.IsZero() {
				hi = sort.Search(len(all), func(i int) bool { return !all[i].rec.Time.Before(thi) })
			}
			hi = max(hi, lo)
		}
	}
	var validUntil time.Time
	for _, st := range all[lo:hi] {
		if pred != nil && !pred.eval(st) {
			continue
		}
		if now.Before(st.visibleAt) {
			if validUntil.IsZero() || st.visibleAt.Before(validUntil) {
				validUntil = st.visibleAt
			}
			continue
		}
		matched = append(matched, st)
		if st.copy {
			copies++
		}
	}
	slices.SortFunc(matched, func(a, b *stored) int {
		if s.opts.Readings.NewestFirst {
			if c := b.rec.Time.Compare(a.rec.Time); c != 0 {
				return c
			}
		}
		if a.order != b.order {
			if a.order < b.order {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.rec.UUID, b.rec.UUID); c != 0 {
			return c
		}
		if a.copy != b.copy {
			if b.copy {
				return -1
			}
			return 1
		}
		return 0
	})
	if len(s.queries) > 256 {
		clear(s.queries)
	}
	s.queries[key] = &cached{matched: matched, copies: copies, validUntil: validUntil, generation: s.generation}
	return matched, copies
}

// TimeLayout is the API's record time format.
const TimeLayout = "2006-01-02T15.04.05.000-0700"

func writeRecord(b *strings.Builder, r *audit.Record) {
	str := func(name, v string, comma bool) {
		b.WriteString(`"` + name + `":`)
		q, _ := json.Marshal(v)
		b.Write(q)
		if comma {
			b.WriteByte(',')
		}
	}
	b.WriteByte('{')
	str("Uuid", r.UUID, true)
	str("Category", r.Category, true)
	str("User", r.User, true)
	str("Tenant", r.Tenant, true)
	str("Account", r.Account, true)
	str("Application", r.Application, true)
	str("Time", r.Time.UTC().Format(TimeLayout), true)
	str("Message", r.Message, true)
	if r.InstanceID == nil {
		b.WriteString(`"InstanceId":null,`)
	} else {
		str("InstanceId", *r.InstanceID, true)
	}
	str("FormatVersion", r.FormatVersion, false)
	b.WriteByte('}')
}

func odataError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
