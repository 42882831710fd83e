package apiclient

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/internal/textsafe"
	"github.com/rs/zerolog"
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
	text := strings.ReplaceAll(show.String(), url.PathEscape(Redacted), Redacted) // as user information it is escaped
	return `"` + textsafe.Escape(Shorten(text, 200)) + `"`
}

// schemeRE finds a Basic or Bearer credential, fieldRE the value of an
// Authorization header or of a token, secret or password field in JSON or
// a form: text shaped like a credential.
var (
	schemeRE = regexp.MustCompile(`(?i)\b(?:basic|bearer)\s+[A-Za-z0-9._~+/=%-]+`)
	fieldRE  = regexp.MustCompile(`(?i)((?:authorization|access_token|refresh_token|id_token|client_secret|password)\\?"?\s*[:=]\s*\\?"?\s*)[A-Za-z0-9._~+/=%-]+`)
)

// ScrubCredentials cleans text that no client scrubbed (a line the
// standard library logs) of secrets and of anything shaped like a
// credential, and escapes it (textsafe).
func ScrubCredentials(s string, secrets []string) string {
	s = schemeRE.ReplaceAllString(redactAll(s, secrets), Redacted)
	s = fieldRE.ReplaceAllString(s, "${1}"+Redacted)
	return scrubText(s, secrets)
}

// StdLog is the writer for the standard library's loggers: net/http's
// transport logs through the log package (a response on an idle connection
// is quoted, and a hostile server can make it hold our Authorization
// header), an http.Server through its ErrorLog. Each line is scrubbed
// (ScrubCredentials) and logged through Log as one structured event.
type StdLog struct {
	Log     zerolog.Logger
	Secrets []string
}

func (l StdLog) Write(p []byte) (int, error) {
	msg := ScrubCredentials(strings.TrimRight(string(p), "\n"), l.Secrets)
	l.Log.Warn().Str("from", "go standard library").Msg(Shorten(msg, 2000))
	return len(p), nil
}
