package cfaudit_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
	"github.com/rs/zerolog"
)

const (
	clientID     = "sb-auditlog-test"
	clientSecret = "cf-Test-Secret-Never-Logged"
)

// shape gives a record of the suite the Cloud Foundry fields.
func shape(r audit.Record) audit.Record {
	r.Application, r.InstanceID = "", nil
	r.CF = &audit.CFFields{OrgID: "org-1", SpaceID: "", AppOrServiceID: "app-" + r.UUID[len(r.UUID)-1:], ALSServiceID: "als-1"}
	return r
}

// The Cloud Foundry client passes the source conformance suite against
// cfsim, with a client secret and with an x509 key over mutual TLS, under
// every reading the documentation leaves open (the paging handle's shapes
// and a time-and-uuid cursor among them).
func TestSourceConformance(t *testing.T) {
	pki, err := cfsim.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	type reading struct {
		name string
		x509 bool
		rd   cfsim.Readings
	}
	cases := []reading{{"x509", true, cfsim.Readings{}}, {"x509-handle-raw-cursor", true, cfsim.Readings{Handle: cfsim.HandleRaw, Cursor: true}}}
	for _, name := range cfsim.ReadingNames() {
		cases = append(cases, reading{"secret/" + name, false, cfsim.AllReadings()[name]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sourcetest.Run(t, sourcetest.Harness{
				Counted: false,
				Padding: cfaudit.FilterPadding,
				Shape:   shape,
				New: func(t *testing.T, account string, recs []audit.Record) source.Source {
					sim := cfsim.New(cfsim.Options{ClientID: clientID, ClientSecret: clientSecret, X509: tc.x509, Readings: tc.rd, Seed: 3})
					sim.Add(recs...)
					api := httptest.NewServer(sim)
					t.Cleanup(api.Close)
					key := cfaudit.ServiceKey{URL: api.URL, UAA: cfaudit.UAA{URL: api.URL, ClientID: clientID, ClientSecret: clientSecret}}
					cfg := cfaudit.Config{Account: account, Key: key, InitialBackoff: time.Millisecond, MaxElapsed: 10 * time.Second, Timeout: 5 * time.Second}
					if tc.x509 {
						// The token endpoint demands the key's client
						// certificate: a real TLS handshake.
						uaa := httptest.NewUnstartedServer(sim)
						uaa.TLS = pki.ServerTLS()
						uaa.StartTLS()
						t.Cleanup(uaa.Close)
						cfg.Key.UAA = cfaudit.UAA{CertURL: uaa.URL, ClientID: clientID, CredentialType: "x509", Certificate: string(pki.ClientCertPEM), Key: string(pki.ClientKeyPEM)}
						cfg.CAFile = caFile
					}
					c, err := cfaudit.New(cfg, zerolog.Nop())
					if err != nil {
						t.Fatal(err)
					}
					return c
				},
			})
		})
	}
}

// Without the client certificate the x509 token endpoint refuses the
// handshake; the error names no key material.
func TestX509WithoutCertificateIsRefused(t *testing.T) {
	pki, err := cfsim.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	otherPKI, err := cfsim.NewPKI() // a certificate from another CA
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pki.CAPEM, 0o600)
	sim := cfsim.New(cfsim.Options{ClientID: clientID, X509: true})
	uaa := httptest.NewUnstartedServer(sim)
	uaa.TLS = pki.ServerTLS()
	uaa.StartTLS()
	defer uaa.Close()
	c, err := cfaudit.New(cfaudit.Config{Account: "a", CAFile: caFile, InitialBackoff: time.Millisecond, MaxElapsed: time.Second,
		Key: cfaudit.ServiceKey{URL: uaa.URL, UAA: cfaudit.UAA{CertURL: uaa.URL, ClientID: clientID, CredentialType: "x509",
			Certificate: string(otherPKI.ClientCertPEM), Key: string(otherPKI.ClientKeyPEM)}}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Token(t.Context())
	if err == nil {
		t.Fatal("a certificate of another CA got a token")
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(otherPKI.ClientKeyPEM[40:80])) {
		t.Fatalf("the error shows key material: %v", err)
	}
	if got := sim.Counters().Tokens; got != 0 {
		t.Fatalf("%d tokens issued", got)
	}
}
