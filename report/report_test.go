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

// A day's signers: one entry per seal generation in JSON ("unsigned" for
// a generation without a signature, never ""), a readable cell in tables.
func TestSignedBy(t *testing.T) {
	res := result()
	res.Days[0].SignedBy = []string{"", ""}
	res.Days[1].SignedBy = []string{"", "ed25519:k"}
	r := New(res, Report{})
	if res.Days[0].SignedBy[0] != "" {
		t.Fatal("New changed the caller's rows")
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Days []struct {
			SignedBy []string `json:"signed_by"`
		} `json:"days"`
		Summary struct {
			SignedBy    []string `json:"signed_by"`
			Records     int64    `json:"records"`
			RecordsSink string   `json:"records_sink"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Days[0].SignedBy; len(got) != 2 || got[0] != "unsigned" || got[1] != "unsigned" {
		t.Errorf("days[0].signed_by %q", got)
	}
	if got := back.Days[1].SignedBy; len(got) != 2 || got[0] != "unsigned" || got[1] != "ed25519:k" {
		t.Errorf("days[1].signed_by %q", got)
	}
	if got := back.Summary.SignedBy; len(got) != 1 || got[0] != "ed25519:k" {
		t.Errorf("summary.signed_by %q: want the signing keys only", got)
	}
	if back.Summary.RecordsSink != "file:out jsonl" || back.Summary.Records != 9 {
		t.Errorf("summary records %d in %q", back.Summary.Records, back.Summary.RecordsSink)
	}
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, "-"},
		{[]string{"", ""}, "unsigned"},
		{[]string{"k", "k"}, "k"},
		{[]string{"", "k"}, "unsigned, k"},
		{[]string{"unsigned", "k", ""}, "unsigned, k, unsigned"},
	} {
		if got := SignedByText(c.in); got != c.want {
			t.Errorf("SignedByText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	b.Reset()
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if page := b.String(); !strings.Contains(page, "<dt>Records</dt><dd>9 in <span class=\"mono\">file:out jsonl</span>") ||
		!strings.Contains(page, "<td class=\"mono\">unsigned, ed25519:k</td>") {
		t.Errorf("the page does not name the sink it counts, or the signers:\n%s", page)
	}
}

// The value axis is labelled in round steps (1, 2 or 5 times a power of
// ten), starts at 0, reaches the largest day, and has at most four
// intervals, none of them wholly above the largest day.
func TestChartTicksRound(t *testing.T) {
	for _, largest := range []int64{0, 1, 3, 4, 5, 7, 10, 99, 101, 1000, 69228, 17307 * 4, 123456789} {
		res := result()
		res.Days = res.Days[1:]
		res.Days[0].Categories = map[string]int64{"a": largest}
		c := chart(New(res, Report{}))
		step := c.Step
		for step%10 == 0 {
			step /= 10
		}
		if step != 1 && step != 2 && step != 5 {
			t.Errorf("largest %d: step %d is not 1, 2 or 5 times a power of ten", largest, c.Step)
		}
		n := len(c.Ticks)
		if n < 2 || n > 5 || c.Ticks[0].Label != "0" {
			t.Fatalf("largest %d: ticks %+v", largest, c.Ticks)
		}
		for i, tk := range c.Ticks {
			if want := thousands(int64(i) * c.Step); tk.Label != want {
				t.Errorf("largest %d: tick %d is %q, want %q", largest, i, tk.Label, want)
			}
			if i > 0 && tk.Y >= c.Ticks[i-1].Y {
				t.Errorf("largest %d: ticks do not rise: %+v", largest, c.Ticks)
			}
		}
		if c.AxisMax < largest || (largest > 0 && c.AxisMax-c.Step >= largest) {
			t.Errorf("largest %d: axis top %d (step %d)", largest, c.AxisMax, c.Step)
		}
		if top := c.Ticks[n-1]; top.Y != c.Top {
			t.Errorf("largest %d: the top tick is at y=%d, not the plot's top %d", largest, top.Y, c.Top)
		}
		if b := c.Bars[0]; largest > 0 && b.Parts[0].Y < c.Top {
			t.Errorf("largest %d: the bar rises above the axis", largest)
		}
	}
	if thousands(1234567) != "1,234,567" || thousands(999) != "999" || thousands(1000) != "1,000" {
		t.Error("thousands")
	}
}
