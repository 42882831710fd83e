package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/report"
)

// A sink verify cannot read back is a line of its own in the text output
// and in the HTML report, not a silent skip.
func TestVerifyPrintsSinksNotVerifiable(t *testing.T) {
	res := exporter.VerifyResult{NotVerifiable: []exporter.NotVerifiable{{Sink: "stdout jsonl", Reason: "not verifiable: keeps nothing"}}}
	rep := report.New(res, report.Report{})
	var out bytes.Buffer
	if err := printVerify(&out, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sink stdout jsonl: not verifiable: keeps nothing\n") {
		t.Fatalf("text output lacks the sink not verifiable:\n%s", out.String())
	}
	var page strings.Builder
	if err := report.WriteHTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "Sink not verifiable") || !strings.Contains(page.String(), "stdout jsonl") {
		t.Fatal("the HTML report lacks the sink not verifiable")
	}
	var js strings.Builder
	if err := report.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"not_verifiable"`) {
		t.Fatalf("the JSON report lacks not_verifiable:\n%s", js.String())
	}
}
