// Package cfsim simulates SAP's Cloud Foundry Audit Log Retrieval API v2
// (service auditlog-management) as its documentation describes it: the
// XSUAA token endpoint for both credential types (client secret with HTTP
// Basic; x509 over mutual TLS with client_id in the form), the records
// collection with time_from/time_to, 500-record pages handed on with a
// "Paging: handle=..." header, 204 for no records, the message as a JSON
// string or object, 501 on category, plus switchable faults and the
// readings the documentation leaves open. It serves tests over real HTTP.
package cfsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	mrand "math/rand/v2"
	"net/http"
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
	ClientID     string
	ClientSecret string // "" for an x509-only server
	// X509 makes the token endpoint demand a verified client certificate
	// (the test serves it over TLS with ClientAuth) and client_id in the
	// form instead of a Basic secret.
	X509 bool
	// TokenTTL is the expires_in of issued tokens; default 1h.
	TokenTTL time.Duration
	// PageSize is the records per page; default the documented 500.
	PageSize int
	// CategoryUnsupported answers a category filter 501, as some landscapes do.
	CategoryUnsupported bool
	// Seed makes faults and the message forms repeatable.
	Seed uint64
	// Readings answers the questions SAP's documentation leaves open.
	Readings Readings
	// Now is the server clock; default time.Now.
	Now func() time.Time
}

// Readings are the behaviours the documentation does not settle.
type Readings struct {
	// StoredDuplicates is the share of records stored (and served) twice.
	StoredDuplicates float64
	// ExclusiveBounds makes time_from and time_to exclusive.
	ExclusiveBounds bool
	// NewestFirst serves the newest records first.
	NewestFirst bool
	// Handle is the shape of the Paging handle: HandleBase64 (opaque
	// base64 that may end in '=', as the global account page describes
	// it), HandleRaw (the subaccount page's time-and-uuid form,
	// 2018-06-14T10:11:18.968<uuid<2018-06-14T10:11:00.000, with '<' and
	// ':' as they are: not a valid query value until encoded) or
	// HandleEncoded (the same, already percent-encoded: %3C, %3A).
	Handle HandleShape
	// Cursor gives the handle time-and-uuid cursor semantics: the listing
	// is ordered by (time, message_uuid) and the next page starts after
	// the last record served, so a record that becomes visible mid-listing
	// with an earlier time than that record is skipped by the listing.
	// Without it the next page starts at an offset into the listing.
	Cursor bool
}

// HandleShape is how the Paging handle looks on the wire.
type HandleShape int

// The shapes of the Paging handle.
const (
	HandleBase64  HandleShape = iota // opaque base64, may end in '='
	HandleRaw                        // time<uuid<time, '<' and ':' unencoded
	HandleEncoded                    // time<uuid<time, already percent-encoded
)

func (h HandleShape) String() string {
	switch h {
	case HandleRaw:
		return "raw"
	case HandleEncoded:
		return "encoded"
	}
	return "base64"
}

// String names r for test names and messages.
func (r Readings) String() string {
	var parts []string
	if r.StoredDuplicates > 0 {
		parts = append(parts, "stored-duplicates="+strconv.FormatFloat(r.StoredDuplicates, 'g', -1, 64))
	}
	if r.ExclusiveBounds {
		parts = append(parts, "exclusive-bounds")
	}
	if r.NewestFirst {
		parts = append(parts, "newest-first")
	}
	if r.Handle != HandleBase64 {
		parts = append(parts, "handle="+r.Handle.String())
	}
	if r.Cursor {
		parts = append(parts, "cursor")
	}
	if len(parts) == 0 {
		return "documented"
	}
	return strings.Join(parts, ",")
}

// AllReadings returns readings that take every alternative the
// documentation leaves open at least once, by name: the conformance and
// end-to-end tests run across them.
func AllReadings() map[string]Readings {
	return map[string]Readings{
		"documented":                  {},
		"stored-duplicates":           {StoredDuplicates: 0.05},
		"exclusive-bounds":            {ExclusiveBounds: true},
		"newest-first":                {NewestFirst: true},
		"handle-raw":                  {Handle: HandleRaw},
		"handle-encoded":              {Handle: HandleEncoded},
		"cursor-raw":                  {Handle: HandleRaw, Cursor: true},
		"cursor-base64":               {Cursor: true, StoredDuplicates: 0.05},
		"cursor-encoded-newest-first": {Handle: HandleEncoded, Cursor: true, NewestFirst: true, ExclusiveBounds: true},
	}
}

// ReadingNames returns AllReadings' names in a stable order.
func ReadingNames() []string {
	return slices.Sorted(maps.Keys(AllReadings()))
}

// Faults are switched on while the server runs; rates are per request.
type Faults struct {
	Rate429    float64 // 429 with Retry-After
	RetryAfter string  // seconds (default "1") or "none"
	Rate5xx    float64 // 500 or 503
	Truncate   float64 // cut a page short (the client retries)
}

// Counters say what the server did.
type Counters struct {
	Tokens      int
	APIRequests int
	Faults      map[string]int
}

// Server is the simulated API; it is an http.Handler.
type Server struct {
	opts Options

	mu       sync.Mutex
	records  []stored
	tokens   map[string]time.Time
	issued   []string
	faults   Faults
	rng      *mrand.Rand
	counters Counters
}

type stored struct {
	rec    audit.Record
	object bool // the message travels as a JSON object
}

// New returns a server with no records.
func New(o Options) *Server {
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{opts: o, tokens: map[string]time.Time{}, rng: mrand.New(mrand.NewPCG(o.Seed, 0xcf)), counters: Counters{Faults: map[string]int{}}}
}

// Add stores records. A record whose message is a JSON object is served,
// on a stable half of them, as that object rather than as a string.
func (s *Server) Add(recs ...audit.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		h := fnv.New64a()
		h.Write([]byte(r.UUID))
		sum := h.Sum64()
		object := json.Valid([]byte(r.Message)) && strings.HasPrefix(strings.TrimSpace(r.Message), "{") && sum%2 == 0
		s.records = append(s.records, stored{rec: r, object: object})
		if p := s.opts.Readings.StoredDuplicates; p > 0 && float64(sum%1_000_000) < p*1_000_000 {
			s.records = append(s.records, stored{rec: r, object: object})
		}
	}
	sort.SliceStable(s.records, func(i, j int) bool {
		a, b := s.records[i].rec, s.records[j].rec
		if s.opts.Readings.NewestFirst {
			return a.Time.After(b.Time)
		}
		// Not time order: the documentation's pages are not sorted.
		return orderOf(a.UUID) < orderOf(b.UUID)
	})
}

func orderOf(id string) uint64 {
	h := fnv.New64()
	h.Write([]byte(id))
	return h.Sum64()
}

// SetFaults replaces the fault settings.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Counters returns a copy of the counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	c.Faults = maps.Clone(s.counters.Faults)
	return c
}

// IssuedTokens returns every token issued so far.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// ServeHTTP routes the token endpoint and the records collection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/oauth/token" && r.Method == http.MethodPost:
		s.token(w, r)
	case r.URL.Path == "/auditlog/v2/auditlogrecords" && r.Method == http.MethodGet:
		s.recordsPage(w, r)
	default:
		apiError(w, http.StatusNotFound, "not_found", "no such resource")
	}
}

func apiError(w http.ResponseWriter, code int, err, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		apiError(w, http.StatusBadRequest, "invalid_request", "grant_type client_credentials required")
		return
	}
	if s.opts.X509 {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			apiError(w, http.StatusUnauthorized, "unauthorized", "a client certificate is required")
			return
		}
		if r.PostForm.Get("client_id") != s.opts.ClientID {
			apiError(w, http.StatusUnauthorized, "invalid_client", "unknown client_id")
			return
		}
	} else {
		id, secret, ok := r.BasicAuth()
		if !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret {
			apiError(w, http.StatusUnauthorized, "invalid_client", "Bad credentials")
			return
		}
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "cfsim-" + hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.issued = append(s.issued, tok)
	s.counters.Tokens++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(s.opts.TokenTTL / time.Second)})
}

// handleFor encodes an offset into the listing as opaque base64 that,
// like the real API's, may end in '='.
func handleFor(offset int, nonce uint32) string {
	var b [7]byte
	binary.BigEndian.PutUint32(b[:4], uint32(offset))
	binary.BigEndian.PutUint16(b[4:6], uint16(nonce))
	b[6] = byte(nonce >> 16)
	return base64.StdEncoding.EncodeToString(b[:]) // 7 bytes: ends in '='
}

func offsetOf(h string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil || len(b) != 7 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(b[:4])), true
}

// cursorLayout is the time format of a time-and-uuid handle, as SAP's
// example shows it: 2018-06-14T10:11:18.968.
const cursorLayout = "2006-01-02T15:04:05.000"

// cursor is a time-and-uuid handle's content: the last record served and
// the query's time_from.
type cursor struct {
	time time.Time
	uuid string
	from time.Time
}

func (c cursor) String() string {
	return c.time.UTC().Format(cursorLayout) + "<" + c.uuid + "<" + c.from.UTC().Format(cursorLayout)
}

func parseCursor(s string) (cursor, bool) {
	parts := strings.Split(s, "<")
	if len(parts) != 3 || parts[1] == "" {
		return cursor{}, false
	}
	t, err1 := time.Parse(cursorLayout, parts[0])
	from, err2 := time.Parse(cursorLayout, parts[2])
	if err1 != nil || err2 != nil {
		return cursor{}, false
	}
	return cursor{time: t, uuid: parts[1], from: from}, true
}

// encodeCursor renders c in shape: base64 padded so that it ends in
// '=', raw, or percent-encoded.
func encodeCursor(c cursor, shape HandleShape) string {
	s := c.String()
	switch shape {
	case HandleRaw:
		return s
	case HandleEncoded:
		return strings.NewReplacer("<", "%3C", ":", "%3A").Replace(s)
	}
	for len(s)%3 == 0 {
		s += "~" // base64 of a length not a multiple of 3 ends in '='
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// decodeCursor reads a handle the client sent (its query value, decoded
// once by the server as every server does).
func decodeCursor(h string, shape HandleShape) (cursor, bool) {
	if shape == HandleBase64 {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			return cursor{}, false
		}
		h = strings.TrimRight(string(b), "~")
	}
	return parseCursor(h)
}

// validQuery reports whether raw holds only what a query may hold
// literally (RFC 3986: unreserved, sub-delims, ':', '@', '/', '?' and
// percent-escapes); servers such as Tomcat answer anything else with 400.
func validQuery(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0:
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

const timeLayout = "2006-01-02T15:04:05"

func (s *Server) recordsPage(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	exp, ok := s.tokens[strings.TrimPrefix(auth, "Bearer ")]
	s.counters.APIRequests++
	f := s.faults
	roll := s.rng.Float64()
	roll2 := s.rng.Float64()
	now := s.opts.Now()
	s.mu.Unlock()
	if !strings.HasPrefix(auth, "Bearer ") || !ok || now.After(exp) {
		apiError(w, http.StatusUnauthorized, "invalid_token", "token expired or unknown")
		return
	}
	switch {
	case roll < f.Rate429:
		s.count("429")
		if f.RetryAfter != "none" {
			ra := f.RetryAfter
			if ra == "" {
				ra = "1"
			}
			w.Header().Set("Retry-After", ra)
		}
		apiError(w, http.StatusTooManyRequests, "too_many_requests", "rate limit exceeded")
		return
	case roll < f.Rate429+f.Rate5xx:
		s.count("5xx")
		apiError(w, []int{500, 503}[int(roll2*2)], "server_error", "try again")
		return
	}
	if !validQuery(r.URL.RawQuery) {
		apiError(w, http.StatusBadRequest, "bad_request", "invalid character in the query")
		return
	}
	q := r.URL.Query()
	if q.Get("category") != "" && s.opts.CategoryUnsupported {
		apiError(w, http.StatusNotImplemented, "filter_category_not_supported", "the category filter is not supported")
		return
	}
	from, err1 := time.Parse(timeLayout, q.Get("time_from"))
	to, err2 := time.Parse(timeLayout, q.Get("time_to"))
	if err1 != nil || err2 != nil || !to.After(from) {
		apiError(w, http.StatusBadRequest, "bad_request", "time_from and time_to: YYYY-MM-DDTHH:MM:SS, from before to")
		return
	}
	rd := s.opts.Readings
	s.mu.Lock()
	var match []stored
	for _, st := range s.records {
		t := st.rec.Time
		in := !t.Before(from) && !t.After(to)
		if rd.ExclusiveBounds {
			in = t.After(from) && t.Before(to)
		}
		if in {
			match = append(match, st)
		}
	}
	nonce := s.rng.Uint32()
	s.mu.Unlock()
	if rd.Cursor {
		// A cursor walks the listing in (time, uuid) order.
		sort.SliceStable(match, func(i, j int) bool {
			a, b := match[i].rec, match[j].rec
			if rd.NewestFirst {
				a, b = b, a
			}
			return a.Time.Before(b.Time) || a.Time.Equal(b.Time) && a.UUID < b.UUID
		})
	}
	offset := 0
	if h := q.Get("handle"); h != "" {
		o, ok := s.resume(h, match, from)
		if !ok {
			apiError(w, http.StatusBadRequest, "bad_request", "invalid paging handle")
			return
		}
		offset = o
	}
	if offset >= len(match) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	end := min(offset+s.opts.PageSize, len(match))
	body := make([]map[string]any, 0, end-offset)
	for _, st := range match[offset:end] {
		body = append(body, wire(st))
	}
	if end < len(match) {
		var h string
		if rd.Handle == HandleBase64 && !rd.Cursor {
			h = handleFor(end, nonce)
		} else {
			last := match[end-1].rec
			h = encodeCursor(cursor{time: last.Time, uuid: last.UUID, from: from}, rd.Handle)
		}
		w.Header().Set("Paging", "handle="+h)
	}
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(body)
	if roll2 < f.Truncate {
		s.count("truncate")
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// resume is where the listing match continues after handle h: an offset
// (opaque base64), the record after the cursor's (time, uuid) in (time,
// uuid) order (Readings.Cursor), or the record after the cursor's uuid in
// the listing's order. A handle of another query, or one the client
// changed (encoded twice, '+' read as a space), is refused.
func (s *Server) resume(h string, match []stored, from time.Time) (int, bool) {
	rd := s.opts.Readings
	if rd.Handle == HandleBase64 && !rd.Cursor {
		return offsetOf(h)
	}
	c, ok := decodeCursor(h, rd.Handle)
	if !ok || !c.from.Equal(from) {
		return 0, false
	}
	for i := range match {
		if !rd.Cursor {
			// The record after the last copy of the cursor's record.
			if j := len(match) - 1 - i; match[j].rec.UUID == c.uuid {
				return j + 1, true
			}
			continue
		}
		r := match[i].rec
		{
			after := r.Time.After(c.time) || r.Time.Equal(c.time) && r.UUID > c.uuid
			if rd.NewestFirst {
				after = r.Time.Before(c.time) || r.Time.Equal(c.time) && r.UUID < c.uuid
			}
			if after {
				return i, true
			}
		}
	}
	if rd.Cursor {
		return len(match), true
	}
	return 0, false
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.counters.Faults[kind]++
	s.mu.Unlock()
}

// wire renders a record as the API sends it.
func wire(st stored) map[string]any {
	r := st.rec
	m := map[string]any{
		"message_uuid": r.UUID, "time": r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), "tenant": r.Tenant,
		"user": r.User, "category": r.Category, "format_version": r.FormatVersion,
	}
	if r.CF != nil {
		m["org_id"], m["space_id"], m["app_or_service_id"], m["als_service_id"] = r.CF.OrgID, r.CF.SpaceID, r.CF.AppOrServiceID, r.CF.ALSServiceID
	}
	if st.object {
		m["message"] = json.RawMessage(r.Message)
	} else {
		m["message"] = r.Message
	}
	return m
}

// Generate returns n Cloud Foundry records of account spread over [from,
// to), with JSON-object messages (half of them are served as objects).
func Generate(account string, from, to time.Time, n int, seed uint64) []audit.Record {
	rng := mrand.New(mrand.NewPCG(seed, 0x6e))
	out := make([]audit.Record, n)
	span := to.Sub(from)
	for i := range out {
		t := from.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond)
		out[i] = audit.Record{
			UUID: fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff),
			Time: t, Category: []string{"audit.security-events", "audit.configuration", "audit.data-access", "audit.data-modification"}[i%4],
			User: []string{"alice@example.com", "", "bob@example.com on behalf of carol"}[i%3], Tenant: "tenant-" + strconv.Itoa(i%3), Account: account,
			Message:       fmt.Sprintf(`{"object":{"type":"app","id":{"id":"%d"}},"attributes":[{"name":"k","old":"a","new":"b\u00fc"}],"success":true}`, i),
			FormatVersion: []string{"", "2.0"}[i%2],
			CF:            &audit.CFFields{OrgID: "org-" + strconv.Itoa(i%2), SpaceID: []string{"", "space-1"}[i%2], AppOrServiceID: "app-" + strconv.Itoa(i%5), ALSServiceID: "als-1"},
		}
	}
	return out
}
