package neosim

import (
	"fmt"
	"strings"
	"time"
)

// The $filter subset the Neo API documents: comparisons of Time, User,
// Category and Application with eq ne gt ge lt le, combined with and, or,
// not and parentheses. Time literals use yyyy-mm-ddThh.MM.ss (UTC).

type node interface {
	eval(r *stored) bool
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ n node }
type cmpNode struct {
	field string
	op    string
	str   string
	t     time.Time
}

func (n andNode) eval(r *stored) bool { return n.l.eval(r) && n.r.eval(r) }
func (n orNode) eval(r *stored) bool  { return n.l.eval(r) || n.r.eval(r) }
func (n notNode) eval(r *stored) bool { return !n.n.eval(r) }

func (n cmpNode) eval(r *stored) bool {
	var c int
	if n.field == "Time" {
		// The record's full-precision time against the whole-second literal:
		// `Time le '10.00.00'` does not match 10:00:00.500.
		c = r.rec.Time.Compare(n.t)
	} else {
		var v string
		switch n.field {
		case "User":
			v = r.rec.User
		case "Category":
			v = r.rec.Category
		case "Application":
			v = r.rec.Application
		}
		c = strings.Compare(v, n.str)
	}
	switch n.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// timeBounds returns a range [lo, hi] that contains every Time the filter
// can match, when the filter's top-level conjunction constrains Time.
func timeBounds(n node) (lo, hi time.Time, ok bool) {
	switch n := n.(type) {
	case andNode:
		llo, lhi, lok := timeBounds(n.l)
		rlo, rhi, rok := timeBounds(n.r)
		switch {
		case lok && rok:
			return later(llo, rlo), earlier(lhi, rhi), true
		case lok:
			return llo, lhi, true
		case rok:
			return rlo, rhi, true
		}
	case cmpNode:
		if n.field != "Time" {
			return
		}
		switch n.op {
		case "ge", "gt":
			return n.t, time.Time{}, true
		case "le", "lt":
			return time.Time{}, n.t.Add(time.Second), true
		case "eq":
			return n.t, n.t.Add(time.Second), true
		}
	}
	return
}

// exclusiveTime rewrites `Time ge` and `Time le` as gt and lt: the
// ExclusiveBounds reading of whole-second boundaries.
func exclusiveTime(n node) node {
	switch n := n.(type) {
	case andNode:
		return andNode{exclusiveTime(n.l), exclusiveTime(n.r)}
	case orNode:
		return orNode{exclusiveTime(n.l), exclusiveTime(n.r)}
	case notNode:
		return notNode{exclusiveTime(n.n)}
	case cmpNode:
		if n.field == "Time" {
			switch n.op {
			case "ge":
				n.op = "gt"
			case "le":
				n.op = "lt"
			}
		}
		return n
	}
	return n
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// parseFilter parses a $filter expression. Errors read like the API's 400s.
func parseFilter(s string) (node, error) {
	p := &parser{toks: nil}
	if err := p.lex(s); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at the end of $filter", p.toks[p.pos].text)
	}
	return n, nil
}

type token struct {
	text  string
	isStr bool
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) lex(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			p.toks = append(p.toks, token{text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return fmt.Errorf("unterminated string literal in $filter")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			p.toks = append(p.toks, token{text: b.String(), isStr: true})
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '(' && s[j] != ')' && s[j] != '\'' {
				j++
			}
			p.toks = append(p.toks, token{text: s[i:j]})
			i = j
		}
	}
	if len(p.toks) == 0 {
		return fmt.Errorf("empty $filter")
	}
	return nil
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) keyword(k string) bool {
	t, ok := p.peek()
	if ok && !t.isStr && t.text == k {
		p.pos++
		return true
	}
	return false
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	if p.keyword("not") {
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if p.keyword("(") {
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.keyword(")") {
			return nil, fmt.Errorf("missing ')' in $filter")
		}
		return n, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (node, error) {
	f, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("$filter ends where a comparison was expected")
	}
	switch {
	case f.isStr:
		return nil, fmt.Errorf("expected a property name, found the literal '%s'", f.text)
	case f.text == "Time" || f.text == "User" || f.text == "Category" || f.text == "Application":
	default:
		return nil, fmt.Errorf("the property %q cannot be used in $filter; only Time, User, Category and Application can", f.text)
	}
	p.pos++
	op, ok := p.peek()
	if !ok || op.isStr {
		return nil, fmt.Errorf("expected an operator after %s", f.text)
	}
	switch op.text {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("the operator %q is not supported; use eq, ne, gt, ge, lt or le", op.text)
	}
	p.pos++
	lit, ok := p.peek()
	if !ok || !lit.isStr {
		return nil, fmt.Errorf("expected a string literal after %s %s", f.text, op.text)
	}
	p.pos++
	n := cmpNode{field: f.text, op: op.text, str: lit.text}
	if f.text == "Time" {
		t, err := time.ParseInLocation("2006-01-02T15.04.05", lit.text, time.UTC)
		if err != nil {
			return nil, fmt.Errorf("the time literal '%s' is not in the format yyyy-mm-ddThh.MM.ss", lit.text)
		}
		n.t = t
	}
	return n, nil
}
