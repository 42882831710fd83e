package cfaudit

import "strings"

// HandleQueryValue is the paging handle h as the value of the next
// request's handle parameter: sent exactly as received wherever it is a
// valid query value, encoded once where it is not.
//
// SAP's pages show the handle in three shapes: opaque base64 that may end
// in '=' ("send ... exactly as received"), a raw time-and-uuid cursor
// (2018-06-14T10:11:18.968<uuid<2018-06-14T10:11:00.000) and the same
// already percent-encoded (%3C). So a percent-escape already in the handle
// is kept (encoding it again would send the server "%253C", another
// handle), and only bytes a query value cannot carry as themselves are
// percent-encoded: '<' and the other characters RFC 3986 does not allow in
// a query, a '%' that starts no escape, and '&', '+', '#' and ';', which a
// server would read as a separator or a space. Letters, digits, '-', '.',
// '_', '~', '=', '/', ':', '@', '?', '!', '$', '\”, '(', ')', '*' and ','
// go as they are.
func HandleQueryValue(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~=/:@?!$'()*,", c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(h) && isHex(h[i+1]) && isHex(h[i+2]):
			b.WriteString(h[i : i+3])
			i += 2
		default:
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// TokenEndpoint is the XSUAA token endpoint of base: base + "/oauth/token",
// or base itself when it already ends in /oauth/token (a service key's
// uaa.url is the base; Kyma's tokenUrl may be either).
func TokenEndpoint(base string) string {
	b := strings.TrimRight(base, "/")
	if strings.HasSuffix(b, "/oauth/token") {
		return b
	}
	return b + "/oauth/token"
}
