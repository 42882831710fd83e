package cfaudit

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// PageSize is the documented, fixed page size.
const PageSize = 500

// MaxRecordsPerPage is the most records one page may hold (ten times the
// documented size): a page of millions of tiny records would cost memory
// the byte limit alone does not bound.
const MaxRecordsPerPage = 10 * PageSize

// MaxHandleBytes is the longest paging handle followed.
const MaxHandleBytes = 16 << 10

// errBadBody is wrapped by every syntaxError.
var errBadBody = errors.New("response body is not a complete JSON array of audit records")

// syntaxError: a body that is not the JSON we expect (retryable).
func syntaxError(err error) error { return source.BadBody(errBadBody, err) }

// contentError: well-formed JSON we cannot accept (permanent).
func contentError(format string, args ...any) error { return source.BadContent(format, args...) }

// ParseHandle reads the Paging header: "handle=<value>". The value may be
// opaque base64 ending in '=', a raw time-and-uuid cursor with '<' and ':',
// or that cursor already percent-encoded: everything after the first
// "handle=" is the handle, sent back as received (HandleQueryValue encodes
// only what a query value cannot carry). "" (no header) means the last
// page.
func ParseHandle(header string) (string, error) {
	h := strings.TrimSpace(header)
	if h == "" {
		return "", nil
	}
	name, value, ok := strings.Cut(h, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "handle") {
		return "", contentError("Paging header %q: want handle=<value>", shortText(h))
	}
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		return "", contentError("Paging header has an empty handle")
	case len(value) > MaxHandleBytes:
		return "", contentError("Paging handle of %d bytes is longer than %d; refusing to follow", len(value), MaxHandleBytes)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c <= ' ' || c >= 0x7f {
			return "", contentError("Paging handle holds byte %#x at %d: not an opaque token", c, i)
		}
	}
	return value, nil
}

// wireRecord is one record as the API sends it.
// A null string field reads as "".
type wireRecord struct {
	MessageUUID    string         `json:"message_uuid"`
	Time           string         `json:"time"`
	Tenant         string         `json:"tenant"`
	OrgID          string         `json:"org_id"`
	SpaceID        string         `json:"space_id"`
	AppOrServiceID string         `json:"app_or_service_id"`
	ALSServiceID   string         `json:"als_service_id"`
	User           string         `json:"user"`
	Category       string         `json:"category"`
	FormatVersion  string         `json:"format_version"`
	Message        jsontext.Value `json:"message"`
}

// decodePage reads one page (a bare JSON array) from r and appends its
// records to recs[:0]; account is the configured name every record gets.
func decodePage(r io.Reader, account string, recs []audit.Record) ([]audit.Record, error) {
	recs = recs[:0]
	// The syntactic layer accepts invalid UTF-8 and repeated names, so that
	// the record's own decoding can name the record that holds them (a data
	// error, not a body cut short).
	dec := jsontext.NewDecoder(r, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	tok, err := dec.ReadToken()
	if err != nil {
		return recs, syntaxError(err)
	}
	if tok.Kind() != '[' {
		if tok.Kind() == '{' {
			// An error object with a 200, or a format we do not know.
			return recs, contentError("the API answered a JSON object, not the array of records")
		}
		return recs, syntaxError(fmt.Errorf("expected a JSON array, found %v", tok.Kind()))
	}
	for dec.PeekKind() != ']' {
		if dec.PeekKind() == 0 {
			_, err := dec.ReadToken()
			return recs, syntaxError(err)
		}
		if len(recs) == MaxRecordsPerPage {
			return recs, contentError("page has more than %d records; refusing to hold it", MaxRecordsPerPage)
		}
		v, err := dec.ReadValue()
		if err != nil {
			return recs, syntaxError(err)
		}
		rec, err := decodeRecord(v, account, len(recs))
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
	if _, err := dec.ReadToken(); err != nil {
		return recs, syntaxError(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON array")
		}
		return recs, syntaxError(err)
	}
	return recs, nil
}

// decodeRecord maps one record to the product's schema.
func decodeRecord(v jsontext.Value, account string, index int) (audit.Record, error) {
	who := "records[" + strconv.Itoa(index) + "]"
	if v.Kind() != '{' {
		return audit.Record{}, contentError("%s is a %v, not an object", who, v.Kind())
	}
	var w wireRecord
	if err := json.Unmarshal(v, &w); err != nil {
		if id := looseUUID(v); id != "" {
			who = "record " + strconv.Quote(shortText(id))
		}
		return audit.Record{}, contentError("%s: %s: the service holds a record we cannot export faithfully; the window fails until it is corrected or skipped", who, recordErrorText(err))
	}
	if w.MessageUUID == "" {
		return audit.Record{}, contentError("%s has no message_uuid", who)
	}
	who = "record " + strconv.Quote(shortText(w.MessageUUID))
	if w.Time == "" {
		return audit.Record{}, contentError("%s has no time", who)
	}
	t, err := audit.ParseTime(w.Time)
	if err != nil {
		return audit.Record{}, contentError("%s: cannot parse time %q: want e.g. 2018-10-04T08:12:00.239Z", who, shortText(w.Time))
	}
	msg, err := messageText(w.Message)
	if err != nil {
		return audit.Record{}, contentError("%s: message: %v", who, err)
	}
	return audit.Record{
		UUID: w.MessageUUID, Time: t, Category: w.Category, User: w.User, Tenant: w.Tenant,
		Account: account, Message: msg, FormatVersion: w.FormatVersion,
		CF: &audit.CFFields{OrgID: w.OrgID, SpaceID: w.SpaceID, AppOrServiceID: w.AppOrServiceID, ALSServiceID: w.ALSServiceID},
	}, nil
}

// messageText is the message as exported: a JSON string verbatim (its
// value), a JSON object as its JSON text with insignificant whitespace
// removed (member order and escapes as received), null as "".
func messageText(v jsontext.Value) (string, error) {
	switch v.Kind() {
	case 0, 'n':
		return "", nil
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", errors.New("not valid Unicode text")
		}
		return s, nil
	case '{':
		c := append(jsontext.Value(nil), v...)
		if err := c.Compact(); err != nil || !utf8.Valid(c) {
			return "", errors.New("an object that is not valid JSON text")
		}
		return string(c), nil
	}
	return "", fmt.Errorf("a %v, not a string or an object", v.Kind())
}

// recordErrorText says what is wrong with a record without quoting more
// than a short piece of it.
func recordErrorText(err error) string {
	var se *json.SemanticError
	if errors.As(err, &se) && se.JSONPointer != "" {
		return fmt.Sprintf("field %s: %s", strings.TrimPrefix(string(se.JSONPointer), "/"), semanticReason(se))
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		field := strings.TrimPrefix(string(syn.JSONPointer), "/")
		if field == "" {
			field = "the record"
		}
		return fmt.Sprintf("%s: %s", field, shortText(syn.Err.Error()))
	}
	return shortText(err.Error())
}

func semanticReason(se *json.SemanticError) string {
	if se.JSONKind != 0 {
		return fmt.Sprintf("a %v, not a string", se.JSONKind)
	}
	if se.Err != nil {
		return shortText(se.Err.Error())
	}
	return "cannot be read"
}

// looseUUID finds message_uuid in a record that failed to decode, to name
// it in the error.
func looseUUID(v jsontext.Value) string {
	var w struct {
		ID string `json:"message_uuid"`
	}
	_ = json.Unmarshal(v, &w, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if !utf8.ValidString(w.ID) {
		return ""
	}
	return w.ID
}

// jsonUnmarshal decodes an error body leniently (duplicate names and
// invalid UTF-8 allowed: it is only shown, scrubbed).
func jsonUnmarshal(b []byte, v any) error {
	return json.Unmarshal(b, v, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}
