package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// DefaultTimeout is source.timeout's default: one HTTP request's limit.
const DefaultTimeout = 60 * time.Second

// Settings are the configuration keys every source that speaks HTTP has,
// inlined in its own (odata.SourceConfig, cfaudit.SourceConfig).
type Settings struct {
	Timeout              time.Duration `yaml:"timeout"`
	MaxRequestsPerSecond float64       `yaml:"max_requests_per_second"`
	CAFile               string        `yaml:"ca_file"`
	MaxPageBytes         int64         `yaml:"max_page_bytes"`
	// MaxPagesPerWindow bounds one window's listing (a server whose
	// nextLinks never end).
	MaxPagesPerWindow int `yaml:"max_pages_per_window"`
	// RetentionDays is how long the API keeps records; 0 asks the
	// Retention API (scope "Manage Audit Logs"), else assumes 201 (Neo),
	// or assumes the documented 90 (Cloud Foundry).
	RetentionDays int `yaml:"retention_days"`
}

// NewSettings returns the defaults of the optional keys, with a source's
// own bound on one window's pages.
func NewSettings(maxPagesPerWindow int) Settings {
	return Settings{Timeout: DefaultTimeout, MaxPageBytes: DefaultMaxBodyBytes, MaxPagesPerWindow: maxPagesPerWindow}
}

// Validate checks the keys; p is the source's path (source, accounts[2]).
func (s Settings) Validate(p string, errs *source.FieldErrors) {
	if s.Timeout <= 0 {
		errs.Add(p+".timeout", "must be positive")
	}
	if s.MaxRequestsPerSecond < 0 {
		errs.Add(p+".max_requests_per_second", "must not be negative (0 means no ceiling: the rate adapts to the API's limit)")
	}
	if s.MaxPageBytes < 1<<20 {
		errs.Add(p+".max_page_bytes", "must be at least 1048576 (1 MiB); a page of 1000 records is about 0.6 MB")
	}
	if s.MaxPagesPerWindow < 10 {
		errs.Add(p+".max_pages_per_window", "must be at least 10")
	}
	if s.RetentionDays < 0 || s.RetentionDays > 3650 {
		errs.Add(p+".retention_days", "must be 0 (the API's own: asked on Neo, 90 days on Cloud Foundry) or 1 to 3650 days")
	}
}

// NetworkHint suggests what to do about a host that does not resolve, a
// connection that fails or a TLS verification that fails; "" for any other
// error.
func NetworkHint(err error) string {
	var (
		dnsErr    *net.DNSError
		netErr    net.Error
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &dnsErr):
		return "the API host does not resolve: source.api_url must be https://api.<region host>, e.g. https://api.hana.ondemand.com (check the region of the subaccount)"
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return "the API host is not reachable: check source.api_url, proxies and egress firewall rules"
	case errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify):
		return "TLS verification failed: behind a TLS-inspecting proxy, set source.ca_file to its CA bundle"
	}
	return ""
}

// MaxSecretFileBytes is the largest client_secret_file, cert_file or
// key_file read (a secret is a few dozen bytes, a certificate chain a few
// KiB).
const MaxSecretFileBytes = 1 << 20

// ReadSecretFile reads the client secret of client_secret_file (its path
// in the configuration: p.client_secret_file), without the line ends that
// follow it; a problem is added to errs.
func ReadSecretFile(p, file string, errs *source.FieldErrors) string {
	b, err := safefile.ReadFile(file, MaxSecretFileBytes)
	if err != nil {
		errs.Add(p+".client_secret_file", "cannot read the secret: %v", err)
		return ""
	}
	secret := string(bytes.TrimRight(b, "\r\n"))
	if secret == "" {
		errs.Add(p+".client_secret_file", "%s is empty", file)
	}
	return secret
}
