package ocsf_test

import (
	"io"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// benchRecords are simulator records of both sources, as exported.
func benchRecords() []audit.Record {
	from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	recs, _ := neosim.Generate(neosim.GenOptions{Account: "neoacct", From: from, To: from.Add(time.Hour), PerHour: 4000, Seed: 3})
	return append(recs, cfsim.Generate("cfsub", from, from.Add(time.Hour), 1000, 3)...)
}

// BenchmarkEncode encodes the same records in each schema and format: the
// per-record cost of OCSF against the record schema's.
func BenchmarkEncode(b *testing.B) {
	recs := benchRecords()
	for _, f := range []struct {
		name string
		f    sinks.Format
	}{
		{"parquet-sap", sinks.Parquet{Schema: sap.Schema}}, {"parquet-ocsf", sinks.Parquet{Schema: ocsf.Schema}},
		{"jsonl-sap", sinks.JSONL{Schema: sap.Schema}}, {"jsonl-ocsf", sinks.JSONL{Schema: ocsf.Schema}},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				enc, err := f.f.NewEncoder(io.Discard, audit.Window{Account: "a"})
				if err != nil {
					b.Fatal(err)
				}
				for i := range recs {
					if err := enc.Encode(&recs[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "rec/s")
		})
	}
}

// BenchmarkMap is the mapping alone.
func BenchmarkMap(b *testing.B) {
	recs := benchRecords()
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			if _, err := ocsf.Map(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "rec/s")
}
