// Package textsafe is the one escaping path for outside text (a server's
// message, a field of stored evidence, a line the standard library logs)
// on its way to a terminal or a log: invalid UTF-8 is replaced, and
// control characters, bidirectional-formatting characters and the Unicode
// line and paragraph separators are written as \uXXXX escapes, so no text
// can forge a line or a table row, reorder what is shown, or send the
// terminal an escape sequence. The escapes are valid inside JSON strings,
// so a JSON log line stays JSON.
package textsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Unsafe reports whether r must not reach a terminal or a log as is.
func Unsafe(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

// Escape renders s safe for one line of a terminal or a log.
func Escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, Unsafe) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		if Unsafe(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Lines escapes each line of s on its own and keeps the line breaks: a
// message of several lines the program wrote itself, holding outside text.
func Lines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
	}
	return strings.Join(lines, "\n")
}

// Writer escapes what is written to it, one write at a time, keeping a
// final line break: put it in front of a log's output, which writes one
// event per call.
type Writer struct{ W io.Writer }

func (w Writer) Write(p []byte) (int, error) {
	s := string(p)
	nl := strings.HasSuffix(s, "\n")
	s = Escape(strings.TrimSuffix(s, "\n"))
	if nl {
		s += "\n"
	}
	if _, err := io.WriteString(w.W, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
