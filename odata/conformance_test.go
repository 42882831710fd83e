package odata_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
	"github.com/rs/zerolog"
)

// The Neo client passes the source conformance suite against neo-sim under
// every reading of what SAP leaves undocumented.
func TestSourceConformance(t *testing.T) {
	for _, name := range neosim.ReadingNames() {
		rd := neosim.AllReadings()[name]
		t.Run(name, func(t *testing.T) {
			sourcetest.Run(t, sourcetest.Harness{
				Counted: rd.Count != neosim.CountNone,
				Padding: odata.FilterPadding,
				New: func(t *testing.T, account string, recs []audit.Record) source.Source {
					sim := neosim.New(neosim.Options{Accounts: []string{account}, ClientID: clientID, ClientSecret: clientSecret, Readings: rd, PageSize: 500, Seed: 5})
					sim.Add(nil, recs...)
					srv := httptest.NewServer(sim)
					t.Cleanup(srv.Close)
					c, err := odata.New(odata.Config{APIURL: srv.URL, Account: account, ClientID: clientID, ClientSecret: clientSecret,
						InitialBackoff: time.Millisecond, MaxElapsed: 10 * time.Second, Timeout: 5 * time.Second}, zerolog.Nop())
					if err != nil {
						t.Fatal(err)
					}
					return c
				},
			})
		})
	}
}
