package neosim

import (
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// GenOptions describes generated data.
type GenOptions struct {
	Account string
	From    time.Time
	To      time.Time
	PerHour int    // average records per hour
	Seed    uint64 // same seed, same records
	// LateFraction of records become visible LateMin..LateMax after their
	// Time; the rest within 30 s. Zero values: 5%, 1m, 20m.
	LateFraction float64
	LateMin      time.Duration
	LateMax      time.Duration
}

var (
	categories = []string{
		"audit.security-events", "audit.security-events",
		"audit.configuration",
		"audit.data-access", "audit.data-access", "audit.data-access.my-sub-category",
		"audit.data-modification", "audit.data-modification.test",
	}
	applications = []string{"auditlog", "hcp-cockpit", "travel-expenses", "hr-portal", "ordersvc", ""}
	users        = []string{"P000123", "S0012345678", "P000456 on behalf of S0098765432", "on behalf of P000789", "", "jane.doe@example.com", "Jürgen Müller", "李小龙"}
	tenants      = []string{"a1b2c3d4-0000-4000-8000-000000000001", "a1b2c3d4-0000-4000-8000-000000000002", "provider"}
	objects      = []string{"Auditlog Retrieval API", "Employee 4711", "Invoice \"2026/11\"", "Kunde Größe", "顧客データ", "payroll 💰"}
)

// Generate returns deterministic, realistic records for o and a visibility
// function that delays a few of them, to pass to Add.
func Generate(o GenOptions) ([]audit.Record, func(audit.Record) time.Time) {
	if o.LateFraction == 0 {
		o.LateFraction = 0.05
	}
	if o.LateMin == 0 {
		o.LateMin = time.Minute
	}
	if o.LateMax == 0 {
		o.LateMax = 20 * time.Minute
	}
	rng := mrand.New(mrand.NewPCG(o.Seed, 0x5eed))
	span := o.To.Sub(o.From)
	n := int(float64(o.PerHour) * span.Hours())
	recs := make([]audit.Record, 0, n)
	delays := make(map[string]time.Duration, n/10)
	prefix := fmt.Sprintf("%06x", rng.Uint32()&0xffffff)
	for i := 0; i < n; i++ {
		t := o.From.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond).UTC()
		r := audit.Record{
			UUID:          fmt.Sprintf("%s-%011x-%x", prefix, t.UnixMilli(), i),
			Time:          t,
			Category:      categories[rng.IntN(len(categories))],
			User:          users[rng.IntN(len(users))],
			Tenant:        tenants[rng.IntN(len(tenants))],
			Account:       o.Account,
			Application:   applications[rng.IntN(len(applications))],
			FormatVersion: "2.2",
		}
		r.Message = message(rng, r.Category)
		if rng.IntN(5) == 0 {
			id := fmt.Sprintf("%x", rng.Uint64())
			r.InstanceID = &id
		}
		recs = append(recs, r)
		if rng.Float64() < o.LateFraction {
			delays[r.UUID] = o.LateMin + time.Duration(rng.Int64N(int64(o.LateMax-o.LateMin)+1))
		} else {
			delays[r.UUID] = time.Duration(rng.Int64N(int64(30 * time.Second)))
		}
	}
	return recs, func(r audit.Record) time.Time { return r.Time.Add(delays[r.UUID]) }
}

func message(rng *mrand.Rand, category string) string {
	obj := objects[rng.IntN(len(objects))]
	var m string
	switch {
	case strings.HasPrefix(category, "audit.data-access"):
		m = fmt.Sprintf(`Read data access message. "%%void"The accessed data belongs to {"type":"account","role":"account","id":{"id :":"auditlog"}} and  read  from object with name "%s" and identifier {"type":"Legacy.Object","id":{"key":"%s"}} by user null`, obj, obj)
	case strings.HasPrefix(category, "audit.data-modification"):
		m = fmt.Sprintf(`Data modification message. Attribute attribute1 update from value "some old value" to value "some new value". Attribute attribute3 update from value "old Value" to value "new Value". The data  update  from object with name "%s" and identifier {"type":"Legacy.Object","id":{"key":"object1_ID"}} by user null`, obj)
	case category == "audit.configuration":
		m = `Configuration change message. Attribute attributes update from value "[old value]" to value "[new value]". `
	default:
		m = fmt.Sprintf(`Security event message. Security event: "This is my message with custom parameters: &param1, &param2","param1":"value of param1","param2":"%s"`, obj)
	}
	switch rng.IntN(20) {
	case 0:
		m += "\nStack:\n\tat com.sap.Foo.bar(Foo.java:42)\r\n\tat com.sap.Main.main(Main.java:7)"
	case 1:
		m += " " + strings.Repeat("long payload ", 400)
	case 2:
		m += " \\ backslash \u2028 line separator \x01 control"
	}
	return m
}
