package apiclient

import (
	"encoding/base64"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/internal/textsafe"
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

// scrubText removes every secret in secrets from s and escapes the rest
// (textsafe: invalid UTF-8, control and bidirectional-formatting
// characters), so server text can neither leak a credential nor forge a
// log line or send terminal escapes.
func scrubText(s string, secrets []string) string {
	s = redactAll(s, secrets)
	esc := textsafe.Escape(s)
	if esc == s {
		return s
	}
	// An escape's digits can complete a secret ("\u0000" then "00" holds
	// "0000"): redact once more in the escaped text, with the secrets that
	// are valid UTF-8 (they cannot cut a character of valid text in two).
	var valid []string
	for _, sec := range secrets {
		if utf8.ValidString(sec) {
			valid = append(valid, sec)
		}
	}
	return redactAll(esc, valid)
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

func unsafeRune(r rune) bool { return textsafe.Unsafe(r) }

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

// ShowURL renders a configured URL for a message (a check that rejects
// it): user information and the query are replaced by Redacted, since a
// secret is what they usually hold, and the rest is shortened and escaped.
// It returns the text quoted.
func ShowURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Not parseable: still cut what could be user information or a
		// query, by the same landmarks.
		rest := s
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i] + "?" + Redacted
		}
		if i := strings.Index(rest, "://"); i >= 0 {
			if at := strings.LastIndex(rest[i+3:], "@"); at >= 0 {
				rest = rest[:i+3] + Redacted + rest[i+3+at:]
			}
		} else if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = Redacted + rest[at:]
		}
		return `"` + textsafe.Escape(Shorten(rest, 200)) + `"`
	}
	show := *u
	if show.User != nil {
		show.User = url.User(Redacted)
	}
	if show.RawQuery != "" || show.ForceQuery {
		show.RawQuery, show.ForceQuery = Redacted, false
	}
	if show.Fragment != "" {
		show.Fragment, show.RawFragment = Redacted, ""
	}
	if show.Opaque != "" {
		show.Opaque = Redacted
	}
	return `"` + textsafe.Escape(Shorten(show.String(), 200)) + `"`
}
