package apiclient

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces a credential found in server-supplied text.
const Redacted = "[REDACTED]"

// SecretsOf lists the forms in which the client's credentials travel, so
// that a server (or a gateway, WAF or proxy) echoing our request headers
// cannot make them appear in an error or a log: the secret itself, its
// URL-encoded form, and the HTTP Basic encodings of id:secret.
func SecretsOf(id, secret string) []string {
	if secret == "" {
		return nil
	}
	out := []string{secret, url.QueryEscape(secret)}
	for _, pair := range []string{id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret)} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			out = append(out, enc.EncodeToString([]byte(pair)))
		}
	}
	return out
}

// scrubText removes every secret in secrets from s, replaces invalid UTF-8,
// and renders control and bidirectional-formatting characters as escapes,
// so server text can neither leak a credential nor forge a log line or
// send terminal escapes.
func scrubText(s string, secrets []string) string {
	s = strings.ToValidUTF8(redactAll(s, secrets), "\uFFFD")
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			if r < utf8.RuneSelf {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			continue
		}
		b.WriteRune(r)
	}
	// An escape's digits can complete a secret ("\x00" then "00" holds
	// "0000"): redact once more in the escaped text, with the secrets that
	// are valid UTF-8 (they cannot cut a character of valid text in two).
	var valid []string
	for _, sec := range secrets {
		if utf8.ValidString(sec) {
			valid = append(valid, sec)
		}
	}
	return redactAll(b.String(), valid)
}

// redactAll replaces every secret of at least 4 bytes in s.
func redactAll(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

// Scrub cleans server-supplied text of the client's credentials and every
// token it was issued.
func (c *Client) Scrub(s string) string {
	return scrubText(s, append(c.tokens.issued(), c.secrets...))
}

// scrubbedError presents a scrubbed message while keeping the error chain
// (classes, StatusError) for callers.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// ScrubErr returns err with its message scrubbed; nil stays nil.
func (c *Client) ScrubErr(err error) error {
	if err == nil {
		return nil
	}
	msg := c.Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}
