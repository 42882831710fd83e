package cfaudit

import (
	"strings"
	"testing"
)

const (
	testSecret = "cf-Secret-Value-Never-Printed"
	testKeyPEM = "-----BEGIN PRIVATE KEY-----\nMIIPrivateKeyNeverPrinted\n-----END PRIVATE KEY-----\n"
)

func TestParseServiceKey(t *testing.T) {
	secretKey := `{"url":"https://auditlog-management.cfapps.eu10.hana.ondemand.com","uaa":{"clientid":"sb-x","clientsecret":"` + testSecret + `","url":"https://sub.authentication.eu10.hana.ondemand.com","identityzone":"sub","tenantmode":"dedicated"},"vendor":"SAP"}`
	x509Key := `{"url":"https://auditlog-management.cfapps.eu10.hana.ondemand.com","uaa":{"clientid":"sb-x","credential-type":"x509","certificate":"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n","key":` + quote(testKeyPEM) + `,"certurl":"https://sub.authentication.cert.eu10.hana.ondemand.com","url":"https://sub.authentication.eu10.hana.ondemand.com"}}`
	for _, tc := range []struct {
		name, in string
		x509     bool
		err      string // "" = valid; else what the error must name
	}{
		{"client secret", secretKey, false, ""},
		{"x509", x509Key, true, ""},
		{"as cf service-key prints it", "Getting key k for service instance auditlog as admin...\n\n" + secretKey + "\n", false, ""},
		{"wrapped in credentials (cf CLI 8)", "Getting key k ...\n\n{\"credentials\": " + x509Key + "}", true, ""},
		{"loopback http (the simulator)", strings.ReplaceAll(secretKey, "https://", "http://127.0.0.1:1/"), false, ""},
		{"no uaa", `{"url":"https://a.example"}`, false, "uaa missing"},
		{"no url", `{"uaa":{"clientid":"c","clientsecret":"s","url":"https://u.example"}}`, false, "url missing"},
		{"no client id", strings.Replace(secretKey, `"clientid":"sb-x",`, "", 1), false, "uaa.clientid missing"},
		{"no secret", strings.Replace(secretKey, `"clientsecret":"`+testSecret+`",`, "", 1), false, "uaa.clientsecret missing"},
		{"x509 without key", strings.Replace(x509Key, `"key":`+quote(testKeyPEM)+`,`, "", 1), true, "uaa.key missing"},
		{"x509 without certurl", strings.Replace(x509Key, `"certurl":"https://sub.authentication.cert.eu10.hana.ondemand.com",`, "", 1), true, "uaa.certurl missing"},
		{"plain http api", strings.Replace(secretKey, "https://auditlog", "http://auditlog", 1), false, "url \"http://auditlog-management"},
		{"not JSON", "Getting key...\nFAILED", false, "no JSON object"},
		{"broken JSON", `{"url": "https://a", "uaa": {"clientsecret": "` + testSecret, false, "syntax error at byte"},
		{"wrong type", `{"url": 5, "uaa": {"clientsecret": "` + testSecret + `"}}`, false, "wrong type at \"/url\""},
		{"too large", "{" + strings.Repeat(" ", MaxServiceKeyBytes) + "}", false, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseServiceKey([]byte(tc.in))
			if err != nil {
				for _, s := range []string{testSecret, "MIIPrivateKeyNeverPrinted"} {
					if strings.Contains(err.Error(), s) {
						t.Fatalf("the error prints a secret: %v", err)
					}
				}
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.err == "" && k.X509() != tc.x509:
				t.Fatalf("X509() = %v", k.X509())
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error naming %q", err, tc.err)
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer("\n", `\n`, `"`, `\"`).Replace(s) + `"`
}

func FuzzParseServiceKey(f *testing.F) {
	f.Add([]byte(`{"url":"https://a.example","uaa":{"clientid":"c","clientsecret":"` + testSecret + `","url":"https://u.example"}}`))
	f.Add([]byte("Getting key\n{\"credentials\":{\"url\":\"https://a\",\"uaa\":{\"clientid\":\"c\",\"certificate\":\"x\",\"key\":\"y\",\"certurl\":\"https://c\"}}}"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseServiceKey(b)
		if err != nil {
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error prints the secret: %v", err)
			}
			return
		}
		// A key accepted is usable: an API URL, a client id, one way to
		// authenticate.
		if k.URL == "" || k.UAA.ClientID == "" || (!k.X509() && k.UAA.ClientSecret == "") || (k.X509() && (k.UAA.Key == "" || k.UAA.CertURL == "")) {
			t.Fatalf("accepted an unusable key: %+v", k)
		}
	})
}
