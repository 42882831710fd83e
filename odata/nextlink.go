package odata

import (
	"fmt"
	"net/url"
	"strings"
)

// RebaseNextLink turns an @odata.nextLink into the URL to request next.
//
// The server may answer with an internal origin (the documented example
// points at http://localhost:8001) or with a relative link. Only the link's
// path and query are kept; scheme, host and port always come from base, the
// configured API URL, so the bearer token never goes to another origin. The
// path must be the records path of the current request (recordsPath), so a
// hostile link cannot send the token to another endpoint on the same host.
// current is the URL of the request that returned the link.
func RebaseNextLink(base, current *url.URL, recordsPath, link string) (*url.URL, error) {
	if strings.TrimSpace(link) == "" {
		return nil, fmt.Errorf("empty @odata.nextLink")
	}
	l, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("@odata.nextLink %q is not a URL: %w", link, err)
	}
	switch strings.ToLower(l.Scheme) {
	case "", "http", "https":
	default:
		return nil, fmt.Errorf("@odata.nextLink %q has scheme %q; only http and https links are followed", link, l.Scheme)
	}
	if l.Opaque != "" {
		return nil, fmt.Errorf("@odata.nextLink %q is not a hierarchical URL", link)
	}
	if l.Scheme == "" && l.Host == "" {
		// Relative reference: resolve it against the request that returned it.
		l = current.ResolveReference(l)
	}
	path := l.EscapedPath()
	prefix := strings.TrimSuffix(base.EscapedPath(), "/")
	if prefix != "" && !strings.HasPrefix(path, prefix+"/") {
		path = prefix + path
	}
	if path != recordsPath {
		return nil, fmt.Errorf("@odata.nextLink %q points at path %q, not at %q", link, l.EscapedPath(), recordsPath)
	}
	next := &url.URL{Scheme: base.Scheme, Host: base.Host, RawQuery: l.RawQuery}
	if err := setEscapedPath(next, path); err != nil {
		return nil, fmt.Errorf("@odata.nextLink %q: %w", link, err)
	}
	return next, nil
}

func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = p, escaped
	if u.EscapedPath() != escaped {
		u.RawPath = ""
	}
	return nil
}
