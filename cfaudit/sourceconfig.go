package cfaudit

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
)

// SourceConfig is a Cloud Foundry source's keys in the configuration file
// (type cf). ServiceKeyFile is the service key as `cf service-key` prints
// it; or api_url, token_url (uaa.url, or uaa.certurl for x509), client_id
// and client_secret[_file] or cert_file + key_file, given one by one.
// Files are read afresh for every run (an x509 certificate may be valid
// for a day).
type SourceConfig struct {
	APIURL           string `yaml:"api_url"`
	TokenURL         string `yaml:"token_url"`
	ClientID         string `yaml:"client_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	CertFile         string `yaml:"cert_file"`
	KeyFile          string `yaml:"key_file"`
	ServiceKeyFile   string `yaml:"service_key_file"`
	// CredentialsDir is Kyma's Secret auditlog-read-credentials (keys
	// url, clientID, clientSecret, tokenUrl) mounted as a directory, read
	// afresh for every run.
	CredentialsDir string `yaml:"credentials_dir"`
	// Filter is Neo's key, refused here with the reason.
	Filter string `yaml:"filter"`

	apiclient.Settings `yaml:",inline"`
}

// DefaultStart is how far back a first run starts when every source is
// of type cf: 88 days, inside the API's documented retention of 90.
const DefaultStart = 2112 * time.Hour

// NewSourceConfig returns a Cloud Foundry source's keys with the defaults
// of the optional ones.
func NewSourceConfig() *SourceConfig {
	return &SourceConfig{Settings: apiclient.NewSettings(DefaultMaxPagesPerWindow)}
}

// Validate checks the keys without I/O; p is the source's path (source,
// accounts[2]).
func (s *SourceConfig) Validate(p string) source.FieldErrors {
	var errs source.FieldErrors
	s.validateKeys(p, &errs)
	s.Settings.Validate(p, &errs)
	return errs
}

func (s *SourceConfig) validateKeys(p string, errs *source.FieldErrors) {
	if s.Filter != "" {
		errs.Add(p+".filter", "only for type neo (the Cloud Foundry API filters only by category, which some landscapes refuse)")
	}
	if s.ServiceKeyFile != "" && s.CredentialsDir != "" {
		errs.Add(p+".credentials_dir", "set either service_key_file or credentials_dir, not both")
		return
	}
	for file, v := range map[string]string{"service_key_file": s.ServiceKeyFile, "credentials_dir": s.CredentialsDir} {
		if v == "" {
			continue
		}
		for k, v := range map[string]string{"api_url": s.APIURL, "token_url": s.TokenURL, "client_id": s.ClientID, "client_secret": s.ClientSecret,
			"client_secret_file": s.ClientSecretFile, "cert_file": s.CertFile, "key_file": s.KeyFile} {
			if v != "" {
				errs.Add(p+"."+k, "set either %s or the explicit keys, not both", file)
			}
		}
		return
	}
	for k, v := range map[string]string{"api_url": s.APIURL, "token_url": s.TokenURL} {
		if err := CheckURL(v); err != nil {
			errs.Add(p+"."+k, "%v (or service_key_file: the output of `cf service-key`; or credentials_dir: Kyma's Secret auditlog-read-credentials)", err)
		}
	}
	if s.ClientID == "" {
		errs.Add(p+".client_id", "required (or service_key_file, or credentials_dir)")
	}
	secret := s.ClientSecret != "" || s.ClientSecretFile != ""
	cert := s.CertFile != "" || s.KeyFile != ""
	switch {
	case s.ClientSecret != "" && s.ClientSecretFile != "":
		errs.Add(p+".client_secret", "set either client_secret or client_secret_file, not both")
	case secret && cert:
		errs.Add(p+".cert_file", "set either a client secret or cert_file and key_file (x509), not both")
	case !secret && !cert:
		errs.Add(p+".client_secret", "required (or client_secret_file, or cert_file and key_file for an x509 key, or service_key_file)")
	case cert && (s.CertFile == "" || s.KeyFile == ""):
		errs.Add(p+".cert_file", "cert_file and key_file go together")
	}
}

// Files are the keys that name files, for making them relative to the
// configuration file's directory.
func (s *SourceConfig) Files() []*string {
	return []*string{&s.ClientSecretFile, &s.CAFile, &s.ServiceKeyFile, &s.CertFile, &s.KeyFile, &s.CredentialsDir}
}

// ReadFiles checks, when the configuration is loaded, that the files the
// keys name are there and hold what they should (the service key, the
// Kyma credentials), and reads client_secret_file into ClientSecret. The
// service key, certificate and key are read again by New, for every run.
func (s *SourceConfig) ReadFiles(p string) source.FieldErrors {
	var errs source.FieldErrors
	if s.ServiceKeyFile != "" {
		if _, err := readServiceKey(s.ServiceKeyFile); err != nil {
			errs.Add(p+".service_key_file", "%v", err)
		}
	}
	if s.CredentialsDir != "" {
		if _, err := ReadCredentialsDir(s.CredentialsDir); err != nil {
			errs.Add(p+".credentials_dir", "%v", err)
		}
	}
	for k, f := range map[string]string{"cert_file": s.CertFile, "key_file": s.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs.Add(p+"."+k, "%v", err)
		}
	}
	if s.ClientSecretFile != "" {
		if secret := apiclient.ReadSecretFile(p, s.ClientSecretFile, &errs); secret != "" {
			s.ClientSecret = secret
		}
	}
	return errs
}

// CredentialKeys are the keys only reaching the API needs.
func (s *SourceConfig) CredentialKeys() []string {
	return []string{"client_id", "client_secret", "client_secret_file", "service_key_file", "cert_file", "key_file", "token_url", "credentials_dir"}
}

// Secrets are the client's secrets (given in the file or its
// client_secret_file) in every form they travel.
func (s *SourceConfig) Secrets() []string { return apiclient.SecretsOf(s.ClientID, s.ClientSecret) }

// DefaultStart is export.start's default when every source is of type cf.
func (s *SourceConfig) DefaultStart() time.Duration { return DefaultStart }

// New builds the Cloud Foundry client the keys describe, reading the
// files they name afresh.
func (s *SourceConfig) New(su source.Setup) (source.Source, error) {
	key, err := s.Key()
	if err != nil {
		return nil, err
	}
	c, err := New(Config{
		Account: su.Account, Key: key, Timeout: s.Timeout, MaxRequestsPerSecond: s.MaxRequestsPerSecond,
		MaxElapsed: su.MaxElapsed, CAFile: s.CAFile, MaxPageBytes: s.MaxPageBytes, Dedupe: su.Dedupe,
		MaxPagesPerWindow: s.MaxPagesPerWindow, RetentionDays: s.RetentionDays, BigPages: su.BigPages,
	}, su.Log.With().Str("source", "cf").Logger())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Key is the service key the keys describe: the file, Kyma's credentials
// Secret mounted as a directory, or the explicit keys (certificate and key
// read from their files).
func (s *SourceConfig) Key() (ServiceKey, error) {
	if s.ServiceKeyFile != "" {
		k, err := readServiceKey(s.ServiceKeyFile)
		if err != nil {
			return k, errclass.Mark(errclass.Config, fmt.Errorf("service_key_file: %w", err))
		}
		return k, nil
	}
	if s.CredentialsDir != "" {
		k, err := ReadCredentialsDir(s.CredentialsDir)
		if err != nil {
			return k, errclass.Mark(errclass.Config, fmt.Errorf("credentials_dir: %w", err))
		}
		return k, nil
	}
	k := ServiceKey{URL: s.APIURL, UAA: UAA{ClientID: s.ClientID, ClientSecret: s.ClientSecret}}
	if s.CertFile == "" {
		k.UAA.URL = s.TokenURL
		return k, nil
	}
	cert, err := safefile.ReadFile(s.CertFile, apiclient.MaxSecretFileBytes)
	if err != nil {
		return k, errclass.Mark(errclass.Config, fmt.Errorf("cert_file: %w", err))
	}
	key, err := safefile.ReadFile(s.KeyFile, apiclient.MaxSecretFileBytes)
	if err != nil {
		return k, errclass.Mark(errclass.Config, fmt.Errorf("key_file: %w", err))
	}
	k.UAA.CertURL, k.UAA.CredentialType, k.UAA.Certificate, k.UAA.Key = s.TokenURL, "x509", string(cert), string(key)
	return k, nil
}

// readServiceKey reads and parses a service key file.
func readServiceKey(path string) (ServiceKey, error) {
	b, err := safefile.ReadFile(path, MaxServiceKeyBytes)
	if err != nil {
		return ServiceKey{}, err
	}
	return ParseServiceKey(b)
}

// Hint suggests what to do about a Cloud Foundry source that failed
// check: it speaks of the service key, the plan and the instance.
func (s *SourceConfig) Hint(err error) string {
	var (
		status *apiclient.StatusError
		alert  tls.AlertError // the server refused our client certificate
		dnsErr *net.DNSError
	)
	switch {
	case errors.As(err, &dnsErr):
		return "a host of the service key does not resolve: check its url (the auditlog-management API of your region) and uaa.url or uaa.certurl"
	case apiclient.NetworkHint(err) != "":
		return apiclient.NetworkHint(err)
	case errors.As(err, &alert):
		return "the token endpoint refused the client certificate: an x509 key's certificate may have expired (they can be valid for a day); create a new key with cf create-service-key"
	case errors.Is(err, apiclient.ErrCredentialsRefused):
		return "the service key's credentials were refused: the key may have been deleted; create a new one (cf create-service-key INSTANCE KEY) and give its output as source.service_key_file"
	case errors.As(err, &status) && status.Code == http.StatusForbidden:
		return "the token may not read audit logs: a subaccount needs an auditlog-management instance of plan default, a global account one of plan central"
	case errors.As(err, &status) && status.Code == http.StatusNotFound:
		return "check the service key's url: the auditlog-management API of your region"
	case errors.As(err, &status) && status.Code == http.StatusUnauthorized:
		return "the API rejects the token: use a key of the auditlog-management instance, not of another service"
	}
	return "see the message; run with log.level: debug for every request"
}
