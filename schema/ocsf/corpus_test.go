package ocsf_test

import (
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

// corpus is every message shape the simulators produce (Neo's texts with
// their stack traces, long payloads and control characters; Cloud
// Foundry's JSON objects) and odd messages no simulator sends.
func corpus() []audit.Record {
	from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	recs, _ := neosim.Generate(neosim.GenOptions{Account: "neoacct", From: from, To: from.Add(6 * time.Hour), PerHour: 100, Seed: 7})
	recs = append(recs, cfsim.Generate("cfsub", from, from.Add(6*time.Hour), 200, 7)...)
	odd := []string{
		"", "null", "[]", "{}", `{"data":`, `{"success":"true","ip":["1.2.3.4"]}`, `{"object":{"type":1,"id":null}}`,
		`{"attributes":"none"}`, `{"ip":"  192.168.0.1  ","data":"logon"}`, "\x00\x01 control", strings.Repeat("{", 1000),
		`{"user":"` + strings.Repeat("x", 100000) + `"}`,
	}
	for i, m := range odd {
		for j, cat := range []string{"audit.security-events", "audit.configuration", "audit.data-access", "audit.data-modification", "audit.unknown", ""} {
			r := audit.Record{UUID: "odd-" + string(rune('a'+i)) + string(rune('a'+j)), Time: from.Add(time.Duration(i*10+j) * time.Second), Category: cat, Account: "odd", Message: m}
			if j%2 == 0 {
				r.CF = &audit.CFFields{}
			}
			recs = append(recs, r)
		}
	}
	return recs
}
