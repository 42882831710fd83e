// Package jsonquote writes JSON strings as jsontext.AppendQuote does
// (RFC 8785's minimal escaping: only '"', '\' and control characters),
// byte for byte, and faster for valid UTF-8: runs of characters that need
// no escape are copied whole. Audit messages are often JSON themselves,
// full of quotes, and every record's message is quoted at least once.
package jsonquote

import (
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Append appends s to b as a quoted JSON string. For invalid UTF-8 it is
// jsontext.AppendQuote: the bad bytes become U+FFFD and an error says so.
func Append(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return jsontext.AppendQuote(b, s)
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

const hex = "0123456789abcdef"
