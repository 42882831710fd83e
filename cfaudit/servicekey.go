// Package cfaudit is the Cloud Foundry source: a client of SAP's Audit Log
// Retrieval API v2 (service auditlog-management, plans default and
// central). It reads the service key, gets the XSUAA token (client secret
// or x509), pages with the Paging handle and decodes records into the
// product's schema.
package cfaudit

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ServiceKey is what `cf service-key` prints for an auditlog-management
// service instance.
type ServiceKey struct {
	// URL is the API base, e.g.
	// https://auditlog-management.cfapps.eu10.hana.ondemand.com.
	URL string
	UAA UAA
}

// UAA is the service key's XSUAA part.
type UAA struct {
	URL          string // token endpoint base for a client secret
	CertURL      string // token endpoint base for x509 (mutual TLS)
	ClientID     string
	ClientSecret string
	Certificate  string // PEM, x509 keys only
	Key          string // PEM private key, x509 keys only
	// CredentialType is "x509", "binding-secret" or "instance-secret" (or
	// empty in older keys).
	CredentialType string
}

// X509 reports whether the key authenticates with a client certificate.
func (k ServiceKey) X509() bool {
	return k.UAA.CredentialType == "x509" || (k.UAA.Certificate != "" && k.UAA.ClientSecret == "")
}

// MaxServiceKeyBytes bounds a service key file (a real one is a few KiB).
const MaxServiceKeyBytes = 1 << 20

type wireKey struct {
	URL string   `json:"url"`
	UAA *wireUAA `json:"uaa"`
}

type wireUAA struct {
	URL            string `json:"url"`
	CertURL        string `json:"certurl"`
	ClientID       string `json:"clientid"`
	ClientSecret   string `json:"clientsecret"`
	Certificate    string `json:"certificate"`
	Key            string `json:"key"`
	CredentialType string `json:"credential-type"`
}

// ParseServiceKey reads a service key as `cf service-key` prints it: the
// JSON alone, or after the CLI's "Getting key ..." line, at the top level
// or inside "credentials" (newer CLIs). Every missing or invalid field is
// named; no secret value ever appears in an error.
func ParseServiceKey(b []byte) (ServiceKey, error) {
	if len(b) > MaxServiceKeyBytes {
		return ServiceKey{}, fmt.Errorf("service key: larger than %d bytes: not a service key", MaxServiceKeyBytes)
	}
	i := bytes.IndexByte(b, '{')
	if i < 0 {
		return ServiceKey{}, errors.New("service key: no JSON object (want the output of `cf service-key INSTANCE KEY`)")
	}
	body := bytes.TrimSpace(b[i:])
	var wrapped struct {
		Credentials *wireKey `json:"credentials"`
		wireKey
	}
	if err := json.Unmarshal(body, &wrapped); err != nil {
		return ServiceKey{}, fmt.Errorf("service key: not valid JSON: %s", jsonErrorText(err))
	}
	w := wrapped.wireKey
	if wrapped.Credentials != nil {
		w = *wrapped.Credentials
	}
	var problems []string
	k := ServiceKey{URL: strings.TrimSpace(w.URL)}
	if w.UAA == nil {
		problems = append(problems, "uaa missing")
	} else {
		u := w.UAA
		k.UAA = UAA{URL: strings.TrimSpace(u.URL), CertURL: strings.TrimSpace(u.CertURL), ClientID: u.ClientID, ClientSecret: u.ClientSecret,
			Certificate: u.Certificate, Key: u.Key, CredentialType: u.CredentialType}
	}
	if err := checkHTTPS("url", k.URL); err != nil {
		problems = append(problems, err.Error())
	}
	if w.UAA != nil {
		if k.UAA.ClientID == "" {
			problems = append(problems, "uaa.clientid missing")
		}
		switch {
		case k.X509():
			if k.UAA.Certificate == "" {
				problems = append(problems, "uaa.certificate missing (an x509 key)")
			}
			if k.UAA.Key == "" {
				problems = append(problems, "uaa.key missing (an x509 key)")
			}
			if err := checkHTTPS("uaa.certurl", k.UAA.CertURL); err != nil {
				problems = append(problems, err.Error())
			}
		default:
			if k.UAA.ClientSecret == "" {
				problems = append(problems, "uaa.clientsecret missing (or uaa.certificate and uaa.key for an x509 key)")
			}
			if err := checkHTTPS("uaa.url", k.UAA.URL); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(problems) > 0 {
		return ServiceKey{}, fmt.Errorf("service key: %s", strings.Join(problems, "; "))
	}
	return k, nil
}

// checkHTTPS checks a URL of the key, naming the field.
func checkHTTPS(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s missing", field)
	}
	if err := CheckURL(s); err != nil {
		return fmt.Errorf("%s %w", field, err)
	}
	return nil
}

// CheckURL checks a Cloud Foundry API or token endpoint URL: absolute,
// https (http only for a loopback host, as the simulator serves), no
// credentials, query or fragment in it.
func CheckURL(s string) error {
	if s == "" {
		return errors.New("required (the service key's url, or uaa.url / uaa.certurl)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s is not an absolute URL", apiclient.ShowURL(s))
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("%s must not contain credentials, a query or a fragment", apiclient.ShowURL(s))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
	}
	return fmt.Errorf("%s: want https:// (http:// only for a loopback host: credentials would travel unencrypted)", apiclient.ShowURL(s))
}

// jsonErrorText says where the JSON is wrong without quoting it (a service
// key holds secrets).
func jsonErrorText(err error) string {
	var se *json.SemanticError
	if errors.As(err, &se) {
		return fmt.Sprintf("a value of the wrong type at %q", se.JSONPointer)
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return fmt.Sprintf("a syntax error at byte %d", syn.ByteOffset)
	}
	return "cannot be read"
}

func shortText(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
