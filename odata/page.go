package odata

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Page is one decoded response of the AuditLogRecords collection.
type Page struct {
	Records  []audit.Record
	NextLink string // "" on the last page
	Count    int64  // @odata.count, when HasCount
	HasCount bool
}

// pageDecoder decodes pages one at a time, reusing its buffers. Records of
// the previous page are overwritten by the next Decode. Not safe for
// concurrent use.
type pageDecoder struct {
	dec     *jsontext.Decoder
	scratch []byte
	timeRaw []byte
	// intern keeps one copy of the few distinct values of low-cardinality
	// fields (category, tenant, account, application, format version).
	intern map[string]string
}

// MaxRecordsPerPage is the most records one page may hold (ten times the
// documented page size): a page of millions of tiny records would cost
// memory the byte limit alone does not bound.
const MaxRecordsPerPage = 10 * ServerPageSize

// The syntactic layer accepts invalid UTF-8 and repeated member names, so
// that the decoder can name the record and field that hold them (a data
// error, not a body cut short).
var decoderOptions = []jsontext.Options{jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)}

func newPageDecoder() *pageDecoder {
	return &pageDecoder{dec: jsontext.NewDecoder(emptyReader{}, decoderOptions...), intern: make(map[string]string)}
}

// errBadBody is wrapped by every syntaxError.
var errBadBody = errors.New("response body is not a complete OData JSON page")

// syntaxError: a body that is not the JSON we expect (retryable).
func syntaxError(err error) error { return source.BadBody(errBadBody, err) }

// contentError: well-formed JSON we cannot accept (permanent).
func contentError(format string, args ...any) error { return source.BadContent(format, args...) }

// Decode reads one page from r into p.
func (d *pageDecoder) Decode(r io.Reader, p *Page) error {
	p.Records = p.Records[:0]
	p.NextLink, p.Count, p.HasCount = "", 0, false
	if len(d.intern) > 4096 {
		clear(d.intern)
	}
	cr := &countingReader{r: r}
	d.dec.Reset(cr, decoderOptions...)
	defer func() {
		if cr.n > source.BigPageBytes {
			// The buffers grew to the size of the page's largest value:
			// give them back rather than keep them for the window.
			d.dec, d.scratch, d.timeRaw = jsontext.NewDecoder(emptyReader{}, decoderOptions...), nil, nil
			return
		}
		d.dec.Reset(emptyReader{}, decoderOptions...) // drop the reference to r
	}()
	tok, err := d.dec.ReadToken()
	if err != nil {
		return syntaxError(err)
	}
	if tok.Kind() != '{' {
		return syntaxError(fmt.Errorf("expected a JSON object, found %v", tok.Kind()))
	}
	sawValue, sawNext, sawCount := false, false, false
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return syntaxError(err)
		}
		for _, once := range []struct {
			name string
			seen *bool
		}{{`"value"`, &sawValue}, {`"@odata.nextLink"`, &sawNext}, {`"@odata.count"`, &sawCount}} {
			if string(name) == once.name {
				if *once.seen {
					return contentError("page has %s twice", name)
				}
				if once.name != `"value"` {
					*once.seen = true
				}
			}
		}
		switch string(name) {
		case `"value"`:
			if err := d.decodeValue(p); err != nil {
				return err
			}
			sawValue = true
		case `"@odata.nextLink"`:
			tok, err := d.dec.ReadToken()
			if err != nil {
				return syntaxError(err)
			}
			switch tok.Kind() {
			case '"':
				p.NextLink = tok.String()
				if !utf8.ValidString(p.NextLink) {
					return contentError("@odata.nextLink is not valid UTF-8")
				}
			case 'n':
			default:
				return contentError("@odata.nextLink is a %v, not a string", tok.Kind())
			}
		case `"@odata.count"`:
			tok, err := d.dec.ReadToken()
			if err != nil {
				return syntaxError(err)
			}
			if tok.Kind() != '0' {
				return contentError("@odata.count is a %v, not a number", tok.Kind())
			}
			n, err := parseCount(tok.String())
			if err != nil {
				return contentError("@odata.count %q: %v", tok.String(), err)
			}
			p.Count, p.HasCount = n, true
		case `"error"`:
			v, err := d.dec.ReadValue()
			if err != nil {
				return syntaxError(err)
			}
			return contentError("API error in a 200 response: %s", odataMessage(v))
		default:
			if err := d.dec.SkipValue(); err != nil {
				return syntaxError(err)
			}
		}
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	// Anything after the object is garbage (two bodies glued together).
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return syntaxError(err)
	}
	if !sawValue {
		return contentError("page has no \"value\" array")
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

func parseCount(s string) (int64, error) {
	var n int64
	if s == "" || len(s) > 15 {
		return 0, errors.New("not a count")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, errors.New("not a non-negative integer")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func (d *pageDecoder) decodeValue(p *Page) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return syntaxError(err)
	}
	if tok.Kind() != '[' {
		return contentError("\"value\" is a %v, not an array", tok.Kind())
	}
	for d.dec.PeekKind() != ']' {
		if d.dec.PeekKind() == 0 {
			_, err := d.dec.ReadToken()
			return syntaxError(err)
		}
		if len(p.Records) == MaxRecordsPerPage {
			return contentError("page has more than %d records; refusing to hold it", MaxRecordsPerPage)
		}
		p.Records = append(p.Records, audit.Record{})
		if err := d.decodeRecord(&p.Records[len(p.Records)-1], len(p.Records)-1); err != nil {
			return err
		}
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	return nil
}

func (d *pageDecoder) decodeRecord(r *audit.Record, index int) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return syntaxError(err)
	}
	if tok.Kind() != '{' {
		return contentError("value[%d] is a %v, not an object", index, tok.Kind())
	}
	d.timeRaw = d.timeRaw[:0]
	hasTime := false
	var seen uint16 // known fields read so far, one bit each
	bad := ""       // the first field whose value we cannot accept, and why
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return syntaxError(err)
		}
		bit := fieldBit(name)
		fname := fieldName(bit) // name's bytes are reused by the next read
		if bit != 0 {
			if seen&bit != 0 && bad == "" {
				bad = fmt.Sprintf("field %s appears twice", fname)
			}
			seen |= bit
		}
		var dst *string
		interned := false
		switch string(name) {
		case `"Uuid"`:
			dst = &r.UUID
		case `"Category"`:
			dst, interned = &r.Category, true
		case `"User"`:
			dst = &r.User
		case `"Tenant"`:
			dst, interned = &r.Tenant, true
		case `"Account"`:
			dst, interned = &r.Account, true
		case `"Application"`:
			dst, interned = &r.Application, true
		case `"Message"`:
			dst = &r.Message
		case `"FormatVersion"`:
			dst, interned = &r.FormatVersion, true
		case `"Time"`:
			v, err := d.stringBytes(fname)
			if err != nil {
				if isTextError(err) {
					bad = cmp.Or(bad, err.Error())
					continue
				}
				return err
			}
			d.timeRaw = append(d.timeRaw[:0], v...)
			hasTime = true
			continue
		case `"InstanceId"`:
			if d.dec.PeekKind() == 'n' {
				if _, err := d.dec.ReadToken(); err != nil {
					return syntaxError(err)
				}
				r.InstanceID = nil
				continue
			}
			v, err := d.stringBytes(fname)
			if err != nil {
				if isTextError(err) {
					bad = cmp.Or(bad, err.Error())
					continue
				}
				return err
			}
			s := string(v)
			r.InstanceID = &s
			continue
		default:
			if err := d.dec.SkipValue(); err != nil {
				return syntaxError(err)
			}
			continue
		}
		v, err := d.stringBytes(fname)
		if err != nil {
			if isTextError(err) {
				bad = cmp.Or(bad, err.Error())
				continue
			}
			return err
		}
		if interned {
			*dst = d.internBytes(v)
		} else {
			*dst = string(v)
		}
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	if bad != "" {
		who := fmt.Sprintf("value[%d]", index)
		if r.UUID != "" {
			who = "record " + strconv.Quote(shorten(r.UUID, 100))
		}
		return contentError("%s: %s: the service holds a record we cannot export faithfully; the window fails until it is corrected or skipped", who, bad)
	}
	if r.UUID == "" {
		return contentError("value[%d] has no Uuid (Time %q)", index, shorten(string(d.timeRaw), 64))
	}
	if !hasTime {
		return contentError("record %q has no Time", shorten(r.UUID, 100))
	}
	t, err := audit.ParseTimeBytes(d.timeRaw)
	if err != nil {
		return contentError("record %q: cannot parse Time %q: want e.g. 2018-03-21T09.00.40.572+0000 or RFC 3339", shorten(r.UUID, 100), shorten(string(d.timeRaw), 64))
	}
	r.Time = t
	return nil
}

// stringBytes reads a string (or null, as "") value and returns its unquoted
// bytes, valid until the next read.
func (d *pageDecoder) stringBytes(name string) ([]byte, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, syntaxError(err)
	}
	switch v.Kind() {
	case 'n':
		return nil, nil
	case '"':
	default:
		return nil, contentError("field %s is a %v, not a string", name, v.Kind())
	}
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		if !utf8.Valid(raw) {
			return nil, textError(fmt.Sprintf("field %s is not valid UTF-8", name))
		}
		return raw, nil
	}
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
	if err != nil {
		// Invalid UTF-8, or an escaped lone surrogate (\ud800: a Java
		// server cutting a message in the middle of a pair).
		return nil, textError(fmt.Sprintf("field %s is not valid Unicode text (invalid UTF-8 or a lone surrogate escape)", name))
	}
	return d.scratch, nil
}

// textError is a field value that is JSON but not valid Unicode text.
type textError string

func (e textError) Error() string { return string(e) }

func isTextError(err error) bool {
	_, ok := err.(textError)
	return ok
}

// fieldNames are the record fields we read, quoted, by bit number.
var fieldNames = [...]string{`"Uuid"`, `"Category"`, `"User"`, `"Tenant"`, `"Account"`, `"Application"`, `"Message"`, `"FormatVersion"`, `"Time"`, `"InstanceId"`}

// fieldName is the quoted name of the field fieldBit numbered bit.
func fieldName(bit uint16) string {
	for i, n := range fieldNames {
		if bit == 1<<i {
			return n
		}
	}
	return ""
}

// fieldBit numbers the record fields we read, to find repeated ones; 0
// for any other member.
func fieldBit(name []byte) uint16 {
	for i, n := range fieldNames {
		if string(name) == n {
			return 1 << i
		}
	}
	return 0
}

func (d *pageDecoder) internBytes(b []byte) string {
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	d.intern[s] = s
	return s
}

// odataMessage extracts "code: message" from an OData error body
// ({"error":{"code","message"}}), or from the inner error object; it falls
// back to a short prefix of the raw text (an HTML page from a proxy).
func odataMessage(body []byte) string {
	var inner struct {
		Code    string         `json:"code"`
		Message jsontext.Value `json:"message"`
	}
	var outer struct {
		Error *jsontext.Value `json:"error"`
	}
	if json.Unmarshal(body, &outer) == nil && outer.Error != nil {
		body = *outer.Error
	}
	if json.Unmarshal(body, &inner) == nil && (inner.Code != "" || len(inner.Message) > 0) {
		msg := string(inner.Message)
		var s string
		if json.Unmarshal(inner.Message, &s) == nil {
			msg = s
		}
		switch {
		case inner.Code != "" && msg != "":
			return inner.Code + ": " + shorten(msg, 500)
		case inner.Code != "":
			return inner.Code
		default:
			return shorten(msg, 500)
		}
	}
	return shorten(string(bytes.TrimSpace(body)), 200)
}
