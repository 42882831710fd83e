package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
)

func result() exporter.VerifyResult {
	d := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	hostile := `<script>alert(1)</script>`
	return exporter.VerifyResult{
		Windows: []exporter.VerifyRow{
			{Account: "a", Start: d, End: d.Add(12 * time.Hour), Sink: "file:out jsonl", Source: 3, Exported: 3, Status: evidence.StatusOK, SignedBy: "ed25519:k"},
			{Account: "a", Start: d.Add(12 * time.Hour), End: d.Add(24 * time.Hour), Sink: "file:out jsonl", Source: -1, Exported: -1, Status: evidence.StatusMissing, Detail: "no object " + hostile},
		},
		Days: []exporter.DayRow{
			{Account: "a", Date: "2026-11-24", Sink: "file:out jsonl", Status: evidence.DayBroken, Detail: "1 of the 2 windows", Generations: 1, Windows: 2, Records: 5,
				Categories: map[string]int64{"audit.security-events": 2, hostile: 3}},
			{Account: "a", Date: "2026-11-25", Sink: "file:out jsonl", Status: evidence.DaySealed, Generations: 2, Windows: 2, Records: 4,
				Categories: map[string]int64{"audit.security-events": 4}, SignedBy: []string{"ed25519:k", "ed25519:k"}},
		},
	}
}

func TestReportFacts(t *testing.T) {
	r := New(result(), Report{Version: "v1", Command: "auditlog-exporter verify --config c.yaml"})
	if r.Summary.OK || len(r.Problems) != 2 || r.Summary.Records != 9 || len(r.Summary.SignedBy) != 1 {
		t.Fatalf("summary %+v, problems %+v", r.Summary, r.Problems)
	}
	for _, p := range r.Problems {
		if p.Meaning == "" {
			t.Fatalf("problem %+v says nothing of what it means", p)
		}
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"windows", "days", "problems", "summary", "command", "checked_at", "public_keys"} {
		if _, ok := back[k]; !ok {
			t.Fatalf("JSON lacks %q", k)
		}
	}
}

// TestReportHTMLIsInertAndSelfContained: server-supplied strings (details,
// categories) are escaped, and nothing is fetched from anywhere.
func TestReportHTMLIsInertAndSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, New(result(), Report{Version: "v1"})); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if strings.Contains(html, "<script") {
		t.Fatal("a hostile string reached the page unescaped")
	}
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "url("} {
		if i := strings.Index(html, bad); i >= 0 {
			t.Fatalf("the page refers to something outside it: %q", html[max(0, i-40):min(len(html), i+60)])
		}
	}
	if !strings.Contains(html, "Content-Security-Policy") || !strings.Contains(html, "<svg") {
		t.Fatal("no CSP or no chart")
	}
}

func TestChartBoundsCategories(t *testing.T) {
	res := result()
	cats := map[string]int64{}
	for i := range 20 {
		cats[string(rune('a'+i))] = int64(i + 1)
	}
	res.Days[1].Categories = cats
	c := chart(New(res, Report{}))
	if len(c.Legend) != maxChartCategories+1 || c.Legend[len(c.Legend)-1].Category != "other categories" {
		t.Fatalf("legend %+v", c.Legend)
	}
	for _, b := range c.Bars {
		top := c.Top + 220
		for _, p := range b.Parts {
			if p.Y < c.Top || p.Y+p.H > top {
				t.Fatalf("bar %s part %+v outside the plot", b.Date, p)
			}
		}
	}
}
