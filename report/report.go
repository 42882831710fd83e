// Package report renders what verify found for an auditor: one
// self-contained HTML page (inline CSS and SVG, no scripts, nothing
// fetched) and the same facts as JSON.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
)

// Report is everything a page or JSON document says.
type Report struct {
	Title     string    `json:"title"`
	CheckedAt time.Time `json:"checked_at"`
	Version   string    `json:"exporter_version"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Mode says what was compared: "objects, manifests, seals and the
	// source" or "evidence only (the source was not asked)".
	Mode string `json:"mode"`
	// Keys are the public keys signatures were checked with.
	Keys    []Key  `json:"public_keys"`
	Command string `json:"command"` // reproduces this report
	exporter.VerifyResult
	Summary  Summary   `json:"summary"`
	Problems []Problem `json:"problems"`
}

// Key is one public key given to verify.
type Key struct {
	ID   string `json:"key_id"`
	File string `json:"file"`
}

// Summary counts statuses.
type Summary struct {
	OK              bool                    `json:"ok"`
	WindowStatuses  map[evidence.Status]int `json:"window_statuses"`
	DayStatuses     map[evidence.Status]int `json:"day_statuses"`
	Records         int64                   `json:"records"`      // in the days of one sink, RecordsSink
	RecordsSink     string                  `json:"records_sink"` // the sink Records counts: the first sink with days
	SignedBy        []string                `json:"signed_by"`
	ObjectsLocked   int                     `json:"objects_locked"`
	WindowsRepaired int                     `json:"windows_repaired"`
}

// Problem is one window or day that is not as it should be.
type Problem struct {
	What    string          `json:"what"` // "window 2026-11-24T10:00Z/11:00Z of acct" or "day 2026-11-24 of acct"
	Sink    string          `json:"sink"`
	Status  evidence.Status `json:"status"`
	Detail  string          `json:"detail"`
	Meaning string          `json:"meaning"` // what the status means for an auditor
}

// Unsigned stands for a seal generation without a signature in a day's
// signed_by list (JSON, text and HTML alike).
const Unsigned = "unsigned"

// SignedByText renders a day's signers, one per seal generation, for a
// table cell: "-" without seals, runs of the same signer once, "unsigned"
// for a generation without a signature.
func SignedByText(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	var parts []string
	for _, id := range ids {
		if id == "" {
			id = Unsigned
		}
		if len(parts) == 0 || parts[len(parts)-1] != id {
			parts = append(parts, id)
		}
	}
	return strings.Join(parts, ", ")
}

// New builds a report from a verify result. A day's signed_by keeps one
// entry per seal generation, oldest first, Unsigned for one not signed.
func New(res exporter.VerifyResult, r Report) Report {
	res.Days = slices.Clone(res.Days)
	for i, d := range res.Days {
		if slices.Contains(d.SignedBy, "") {
			ids := slices.Clone(d.SignedBy)
			for j, id := range ids {
				if id == "" {
					ids[j] = Unsigned
				}
			}
			res.Days[i].SignedBy = ids
		}
	}
	r.VerifyResult = res
	if r.Title == "" {
		r.Title = "auditlog-exporter verification report"
	}
	s := Summary{WindowStatuses: map[evidence.Status]int{}, DayStatuses: map[evidence.Status]int{}}
	signers := map[string]bool{}
	for _, w := range res.Windows {
		s.WindowStatuses[w.Status]++
		if w.SignedBy != "" {
			signers[w.SignedBy] = true
		}
		if w.Lock != "" {
			s.ObjectsLocked++
		}
		if w.Repaired {
			s.WindowsRepaired++
		}
		if !w.Status.OK() {
			r.Problems = append(r.Problems, Problem{What: fmt.Sprintf("window %s/%s of %s", w.Start.UTC().Format("2006-01-02T15:04Z"), w.End.UTC().Format("15:04Z"), w.Account),
				Sink: w.Sink, Status: w.Status, Detail: w.Detail, Meaning: w.Status.Meaning()})
		}
	}
	first := ""
	if len(res.Days) > 0 {
		first = res.Days[0].Sink
	}
	s.RecordsSink = first
	for _, d := range res.Days {
		s.DayStatuses[d.Status]++
		for _, k := range d.SignedBy {
			if k != Unsigned {
				signers[k] = true
			}
		}
		if d.Sink == first {
			s.Records += d.Records
		}
		if !d.Status.OK() {
			r.Problems = append(r.Problems, Problem{What: "day " + d.Date + " of " + d.Account, Sink: d.Sink, Status: d.Status, Detail: d.Detail, Meaning: d.Status.Meaning()})
		}
	}
	for k := range signers {
		s.SignedBy = append(s.SignedBy, k)
	}
	sort.Strings(s.SignedBy)
	s.OK = len(r.Problems) == 0
	r.Summary = s
	return r
}

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// palette colours the chart's categories (colour-blind safe, Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

// maxChartCategories is how many categories the chart names; the rest
// are drawn as one.
const maxChartCategories = 7

// Bar is one day of the chart.
type Bar struct {
	Date  string
	X     int
	Total int64
	Parts []Part
}

// Part is one category's share of a bar.
type Part struct {
	Category string
	Color    string
	Y, H     int
	N        int64
}

// Legend names a category's colour.
type Legend struct {
	Category, Color string
	N               int64
}

// Chart is the records-per-day-by-category chart, laid out.
type Chart struct {
	Width, Height, BarWidth, Top int
	Bars                         []Bar
	Legend                       []Legend
	Max                          int64 // the largest day's records
	AxisMax                      int64 // the value axis' top: a whole number of Steps
	Step                         int64 // between ticks: 1, 2 or 5 times a power of ten
	Ticks                        []Tick
}

// Tick is one label of the value axis.
type Tick struct {
	Y     int
	Label string
}

// chart lays out records per day (every account, the first sink) by
// category.
func chart(r Report) Chart {
	const height, top, barMax = 260, 10, 220
	perDay := map[string]map[string]int64{}
	totals := map[string]int64{}
	var dates []string
	first := ""
	if len(r.Days) > 0 {
		first = r.Days[0].Sink
	}
	for _, d := range r.Days {
		if d.Sink != first {
			continue
		}
		if perDay[d.Date] == nil {
			perDay[d.Date] = map[string]int64{}
			dates = append(dates, d.Date)
		}
		for c, n := range d.Categories {
			perDay[d.Date][c] += n
			totals[c] += n
		}
	}
	sort.Strings(dates)
	cats := make([]string, 0, len(totals))
	for c := range totals {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		if totals[cats[i]] != totals[cats[j]] {
			return totals[cats[i]] > totals[cats[j]]
		}
		return cats[i] < cats[j]
	})
	named := cats
	other := "other categories"
	if len(cats) > maxChartCategories {
		named = cats[:maxChartCategories]
	}
	color := map[string]string{}
	c := Chart{Height: height, Top: top}
	for i, name := range named {
		color[name] = palette[i]
		c.Legend = append(c.Legend, Legend{Category: name, Color: palette[i], N: totals[name]})
	}
	if len(cats) > len(named) {
		var n int64
		for _, name := range cats[len(named):] {
			n += totals[name]
		}
		c.Legend = append(c.Legend, Legend{Category: other, Color: palette[len(palette)-1], N: n})
	}
	for _, d := range dates {
		var t int64
		for _, n := range perDay[d] {
			t += n
		}
		c.Max = max(c.Max, t)
	}
	c.Step, c.AxisMax = axis(c.Max)
	c.BarWidth = max(4, min(40, 900/max(1, len(dates))))
	gap := max(1, c.BarWidth/5)
	c.Width = 60 + len(dates)*(c.BarWidth+gap) + 10
	scale := func(n int64) int { return int(n * barMax / c.AxisMax) }
	for i, d := range dates {
		b := Bar{Date: d, X: 60 + i*(c.BarWidth+gap)}
		y := top + barMax
		order := slices.Clone(named)
		var rest int64
		for cat, n := range perDay[d] {
			if color[cat] == "" {
				rest += n
			}
		}
		for _, cat := range order {
			n := perDay[d][cat]
			b.Total += n
			if h := scale(n); n > 0 {
				y -= h
				b.Parts = append(b.Parts, Part{Category: cat, Color: color[cat], Y: y, H: h, N: n})
			}
		}
		if rest > 0 {
			b.Total += rest
			h := scale(rest)
			y -= h
			b.Parts = append(b.Parts, Part{Category: other, Color: palette[len(palette)-1], Y: y, H: h, N: rest})
		}
		c.Bars = append(c.Bars, b)
	}
	for v := int64(0); v <= c.AxisMax; v += c.Step {
		c.Ticks = append(c.Ticks, Tick{Y: top + barMax - scale(v), Label: thousands(v)})
	}
	return c
}

// axis picks the value axis for a largest value: the smallest step of 1,
// 2 or 5 times a power of ten that covers it in at most four intervals,
// and the top, the first multiple of the step at or above it (at least
// one step).
func axis(largest int64) (step, top int64) {
	step = 1
	for mag := int64(1); ; mag *= 10 {
		if s := pickStep(mag, largest); s > 0 {
			step = s
			break
		}
	}
	top = max(step, (largest+step-1)/step*step)
	return step, top
}

func pickStep(mag, largest int64) int64 {
	for _, m := range []int64{1, 2, 5} {
		if s := m * mag; 4*s >= largest {
			return s
		}
	}
	return 0
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
