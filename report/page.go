package report

import (
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/internal/textsafe"
)

// The page is written by hand, every outside string through html.EscapeString:
// html/template would be shorter, but executing a template makes the linker
// keep every exported method of every type (reflection by name), which
// added 12 MB to the binary and 3-4 MiB to an export's peak memory.

// pageCSS styles the report: inline, no fonts or images fetched.
const pageCSS = `body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 1200px; color: #1b1f24; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.verdict { padding: 12px 16px; border-radius: 6px; font-size: 16px; font-weight: 600; margin: 16px 0; }
.pass { background: #dafbe1; border: 1px solid #4ac26b; }
.fail { background: #ffebe9; border: 1px solid #ff8182; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: #57606a; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #cf222e; font-weight: 600; }
.problem { border-left: 4px solid #cf222e; background: #fff8f8; padding: 8px 12px; margin: 8px 0; }
.problem .meaning { color: #57606a; }
pre.cmd { background: #f6f8fa; padding: 10px; border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
`

// WriteHTML writes the report as one self-contained HTML page.
func WriteHTML(w io.Writer, r Report) error {
	p := &pageWriter{}
	p.page(r, chart(r))
	_, err := io.WriteString(w, p.b.String())
	return err
}

type pageWriter struct{ b strings.Builder }

// f writes format with args, each string (and status) arg escaped: for a
// terminal first (control and bidirectional-formatting characters, which a
// browser obeys too), then for HTML.
func (p *pageWriter) f(format string, args ...any) {
	for i, a := range args {
		switch s := a.(type) {
		case string:
			args[i] = html.EscapeString(textsafe.Escape(s))
		case evidence.Status:
			args[i] = html.EscapeString(textsafe.Escape(string(s)))
		}
	}
	fmt.Fprintf(&p.b, format, args...)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func count(n int64) string {
	if n < 0 {
		return "–"
	}
	return fmt.Sprint(n)
}

func statusClass(s evidence.Status) string {
	if s.OK() {
		return "ok"
	}
	return "bad"
}

// counts renders a status count map in a fixed order.
func counts(m map[evidence.Status]int) string {
	keys := slices.Sorted(maps.Keys(m))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func (p *pageWriter) page(r Report, c Chart) {
	p.f("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p.f("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
	p.f("<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n", r.Title, pageCSS)
	p.f("<h1>%s</h1>\n<div>Checked %s by auditlog-exporter %s</div>\n", r.Title, stamp(r.CheckedAt), r.Version)
	if r.Summary.OK {
		p.f("<div class=\"verdict pass\" id=\"verdict\">PASS: every window and day checked is complete and intact</div>\n")
	} else {
		p.f("<div class=\"verdict fail\" id=\"verdict\">FAIL: %d problem(s) found</div>\n", len(r.Problems))
	}
	if len(r.Problems) > 0 {
		p.f("<h2>Problems</h2>\n")
		for _, pr := range r.Problems {
			p.f("<div class=\"problem\"><div><b>%s</b>: %s in <span class=\"mono\">%s</span></div>\n<div>%s</div><div class=\"meaning\">What it means: %s</div></div>\n",
				pr.Status, pr.What, pr.Sink, pr.Detail, pr.Meaning)
		}
	}
	p.facts(r)
	p.chart(c, r.Summary.RecordsSink)
	p.days(r)
	p.windows(r)
	p.f("<h2>Reproduce</h2>\n<p>Run this with the same configuration (read-only access to the sinks is enough with <code>--evidence-only</code>):</p>\n<pre class=\"cmd\">%s</pre>\n</body>\n</html>\n", r.Command)
}

func (p *pageWriter) facts(r Report) {
	p.f("<h2>What was checked</h2>\n<dl class=\"facts\">\n")
	p.f("<dt>Range</dt><dd>%s to %s</dd>\n<dt>Compared</dt><dd>%s</dd>\n", stamp(r.From), stamp(r.To), r.Mode)
	p.f("<dt>Windows × sinks</dt><dd>%d (%s)</dd>\n<dt>Days × sinks</dt><dd>%d (%s)</dd>\n", len(r.Windows), counts(r.Summary.WindowStatuses), len(r.Days), counts(r.Summary.DayStatuses))
	if r.Summary.RecordsSink != "" {
		p.f("<dt>Records</dt><dd>%s in <span class=\"mono\">%s</span> (the first sink; every sink's days are in the table below)</dd>\n", thousands(r.Summary.Records), r.Summary.RecordsSink)
	} else {
		p.f("<dt>Records</dt><dd>no day checked</dd>\n")
	}
	p.f("<dt>Public keys given</dt><dd>")
	if len(r.Keys) == 0 {
		p.f("none: signatures were reported, not required")
	}
	for _, k := range r.Keys {
		p.f("<span class=\"mono\">%s</span> (%s) ", k.ID, k.File)
	}
	p.f("</dd>\n<dt>Signed by</dt><dd>")
	if len(r.Summary.SignedBy) == 0 {
		p.f("nothing is signed")
	}
	for _, k := range r.Summary.SignedBy {
		p.f("<span class=\"mono\">%s</span> ", k)
	}
	p.f("</dd>\n<dt>Objects under Object Lock</dt><dd>%d of %d</dd>\n", r.Summary.ObjectsLocked, len(r.Windows))
	if r.Summary.WindowsRepaired > 0 {
		p.f("<dt>Repaired in this run</dt><dd>%d window(s)</dd>\n", r.Summary.WindowsRepaired)
	}
	for _, n := range r.NotVerifiable {
		p.f("<dt>Sink not verifiable</dt><dd><span class=\"mono\">%s</span>: %s</dd>\n", n.Sink, n.Reason)
	}
	p.f("</dl>\n")
}

func (p *pageWriter) chart(c Chart, sink string) {
	p.f("<h2>Records per day by category</h2>\n")
	if sink != "" {
		p.f("<div>Counted in <span class=\"mono\">%s</span>, the first sink.</div>\n", sink)
	}
	if len(c.Bars) == 0 {
		p.f("<div>No records.</div>\n")
		return
	}
	p.f("<svg width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"records per day by category\">\n", c.Width, c.Height+20)
	for _, t := range c.Ticks {
		p.f("<line x1=\"55\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#eaeef2\"/><text x=\"50\" y=\"%d\" font-size=\"10\" text-anchor=\"end\" dominant-baseline=\"middle\" fill=\"#57606a\">%s</text>\n",
			c.Width, t.Y, t.Y, t.Y, t.Label)
	}
	for _, b := range c.Bars {
		for _, pt := range b.Parts {
			p.f("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%s %s: %d</title></rect>\n", b.X, pt.Y, c.BarWidth, pt.H, pt.Color, b.Date, pt.Category, pt.N)
		}
		if len(c.Bars) <= 14 {
			p.f("<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#57606a\">%s</text>\n", b.X+c.BarWidth/2, c.Height+14, b.Date[min(5, len(b.Date)):])
		}
	}
	p.f("</svg>\n<div class=\"legend\">")
	for _, l := range c.Legend {
		p.f("<span><i style=\"background: %s\"></i>%s (%d)</span>", l.Color, l.Category, l.N)
	}
	p.f("</div>\n<div class=\"mono\">%s … %s</div>\n", c.Bars[0].Date, c.Bars[len(c.Bars)-1].Date)
}

func (p *pageWriter) days(r Report) {
	p.f("<h2>Days</h2>\n<table>\n<tr><th>Date</th><th>Account</th><th>Sink</th><th>Status</th><th class=\"num\">Windows</th><th class=\"num\">Records</th><th class=\"num\">Seals</th><th>Newest seal</th><th>Signed by</th><th>Detail</th></tr>\n")
	for _, d := range r.Days {
		detail := d.Detail
		if d.Generations > 1 {
			detail += " Sealed again: " + d.Reason
		}
		p.f("<tr><td class=\"mono\">%s</td><td>%s</td><td class=\"mono\">%s</td><td class=\"%s\">%s</td><td class=\"num\">%d</td><td class=\"num\">%d</td><td class=\"num\">%d</td><td class=\"mono\">%s</td><td class=\"mono\">%s</td><td>%s</td></tr>\n",
			d.Date, d.Account, d.Sink, statusClass(d.Status), d.Status, d.Windows, d.Records, d.Generations, short(d.Seal), SignedByText(d.SignedBy), detail)
	}
	p.f("</table>\n")
}

func (p *pageWriter) windows(r Report) {
	p.f("<h2>Windows</h2>\n<table>\n<tr><th>Window (UTC)</th><th>Account</th><th>Sink</th><th class=\"num\">Source</th><th class=\"num\">Exported</th><th>Status</th><th>SHA-256</th><th>Signed by</th><th>Lock</th><th>Detail</th></tr>\n")
	for _, w := range r.Windows {
		status := w.Status
		if w.Repaired {
			status += " (repaired)"
		}
		signed := w.SignedBy
		switch {
		case w.Exported < 0:
			signed = "–" // no manifest
		case signed == "":
			signed = Unsigned
		}
		p.f("<tr><td class=\"mono\">%s</td><td>%s</td><td class=\"mono\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"%s\">%s</td><td class=\"mono\">%s</td><td class=\"mono\">%s</td><td class=\"mono\">%s</td><td>%s</td></tr>\n",
			w.Start.UTC().Format("2006-01-02 15:04")+"–"+w.End.UTC().Format("15:04"), w.Account, w.Sink, count(w.Source), count(w.Exported), statusClass(w.Status), status,
			short(w.SHA256), signed, w.Lock, w.Detail)
	}
	p.f("</table>\n")
}
