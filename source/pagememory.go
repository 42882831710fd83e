package source

import (
	"bytes"
	"context"
	"io"
)

// BigPageBytes is the size above which a response is a big page: a page
// of the documented 1,000 records is about 0.6 MB, so only a hostile or
// unusual server sends more. Big pages are decoded and handed on one at a
// time in the whole process (PageGate), so the memory they cost does not
// grow with the windows in flight.
const BigPageBytes = 4 << 20

// PageGate admits one big page at a time, process-wide: every source
// client of a run shares one. A nil *PageGate admits everything.
type PageGate struct{ slot chan struct{} }

// NewPageGate returns a gate for one run.
func NewPageGate() *PageGate { return &PageGate{slot: make(chan struct{}, 1)} }

// PagePass is one listing's use of the gate: a listing reads its pages
// through Reader and calls Release once a page's records are handed on
// (and when the listing ends). Not safe for concurrent use.
type PagePass struct {
	g    *PageGate
	ctx  context.Context
	held bool
}

// Pass starts a listing's use of g.
func (g *PageGate) Pass(ctx context.Context) *PagePass { return &PagePass{g: g, ctx: ctx} }

// Reader counts what r delivers; once a page passes BigPageBytes, reading
// on waits for the gate, which the pass then holds until Release.
func (p *PagePass) Reader(r io.Reader) io.Reader {
	if p == nil || p.g == nil {
		return r
	}
	return &gatedReader{r: r, p: p}
}

// Release gives the gate back if this pass holds it.
func (p *PagePass) Release() {
	if p != nil && p.held {
		<-p.g.slot
		p.held = false
	}
}

type gatedReader struct {
	r io.Reader
	p *PagePass
	n int64
}

func (g *gatedReader) Read(b []byte) (int, error) {
	if g.n > BigPageBytes && !g.p.held {
		select {
		case g.p.g.slot <- struct{}{}:
			g.p.held = true
		case <-g.p.ctx.Done():
			return 0, g.p.ctx.Err()
		}
	}
	n, err := g.r.Read(b)
	g.n += int64(n)
	return n, err
}

// SqueezeWhitespace reads a JSON text from r with every run of whitespace
// outside strings cut to one space: padding costs a decoder nothing (a
// decoder holds a token and the whitespace after it in one buffer, so a
// page padded with megabytes of spaces would cost their size again).
func SqueezeWhitespace(r io.Reader) io.Reader { return &squeezer{r: r} }

type squeezer struct {
	r                      io.Reader
	inString, escape, wsep bool
}

func (s *squeezer) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		w := s.squeeze(p[:n])
		// A read of nothing but dropped whitespace reads on, so that the
		// caller never sees a (0, nil) read.
		if w > 0 || err != nil || n == 0 {
			return w, err
		}
	}
}

// squeeze compacts b in place and returns its new length.
func (s *squeezer) squeeze(b []byte) int {
	w, i, n := 0, 0, len(b)
	for i < n {
		if s.inString {
			if s.escape {
				s.escape = false
				b[w] = b[i]
				w++
				i++
				continue
			}
			// Copy up to the next quote or backslash: a short scan first
			// (keys and short values), then the vectorized search.
			j := i
			for end := min(n, i+16); j < end && b[j] != '"' && b[j] != '\\'; j++ {
			}
			if j == i+16 {
				rest := b[j:n]
				k := bytes.IndexByte(rest, '"')
				if k < 0 {
					k = len(rest)
				}
				if e := bytes.IndexByte(rest[:k], '\\'); e >= 0 {
					k = e
				}
				j += k
			}
			if w != i {
				copy(b[w:], b[i:j])
			}
			w += j - i
			i = j
			if i < n {
				s.escape = b[i] == '\\'
				s.inString = b[i] != '"'
				b[w] = b[i]
				w++
				i++
			}
			continue
		}
		c := b[i]
		i++
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			if s.wsep {
				continue
			}
			s.wsep = true
			c = ' '
		} else {
			s.wsep = false
			s.inString = c == '"'
		}
		b[w] = c
		w++
	}
	return w
}
