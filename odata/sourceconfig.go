package odata

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
)

// SourceConfig is a Neo source's keys in the configuration file (type
// neo, the default): its API, its Platform API client and the keys every
// HTTP source has.
type SourceConfig struct {
	APIURL           string `yaml:"api_url"`
	ClientID         string `yaml:"client_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	Filter           string `yaml:"filter"`

	apiclient.Settings `yaml:",inline"`
}

// DefaultStart is how far back a first run starts when every source is
// Neo: 199 days, inside Neo's default retention of 201, with two days to
// get there before the oldest window's records are deleted.
const DefaultStart = 4776 * time.Hour

// NewSourceConfig returns a Neo source's keys with the defaults of the
// optional ones.
func NewSourceConfig() *SourceConfig {
	s := &SourceConfig{Settings: apiclient.NewSettings(DefaultMaxPagesPerWindow)}
	s.MaxPageBytes = DefaultMaxPageBytes
	return s
}

var timeWordRE = regexp.MustCompile(`\bTime\b`)

// Validate checks the keys without I/O; p is the source's path (source,
// accounts[2]).
func (s *SourceConfig) Validate(p string) source.FieldErrors {
	var errs source.FieldErrors
	if _, err := ParseAPIURL(s.APIURL); err != nil {
		errs.Add(p+".api_url", "%v", strings.TrimPrefix(err.Error(), "api_url "))
	}
	if s.ClientID == "" {
		errs.Add(p+".client_id", "required")
	}
	switch {
	case s.ClientSecret != "" && s.ClientSecretFile != "":
		errs.Add(p+".client_secret", "set either client_secret or client_secret_file, not both")
	case s.ClientSecret == "" && s.ClientSecretFile == "":
		errs.Add(p+".client_secret", "required (or client_secret_file)")
	}
	if timeWordRE.MatchString(s.Filter) {
		errs.Add(p+".filter", "must not filter on Time: the exporter sets the time range of each window")
	}
	s.Settings.Validate(p, &errs)
	return errs
}

// Files are the keys that name files, for making them relative to the
// configuration file's directory.
func (s *SourceConfig) Files() []*string { return []*string{&s.ClientSecretFile, &s.CAFile} }

// ReadFiles reads client_secret_file into ClientSecret.
func (s *SourceConfig) ReadFiles(p string) source.FieldErrors {
	var errs source.FieldErrors
	if s.ClientSecretFile != "" {
		if secret := apiclient.ReadSecretFile(p, s.ClientSecretFile, &errs); secret != "" {
			s.ClientSecret = secret
		}
	}
	return errs
}

// CredentialKeys are the keys only reaching the API needs.
func (s *SourceConfig) CredentialKeys() []string {
	return []string{"client_id", "client_secret", "client_secret_file"}
}

// Secrets are the client's secrets in every form they travel.
func (s *SourceConfig) Secrets() []string { return apiclient.SecretsOf(s.ClientID, s.ClientSecret) }

// DefaultStart is export.start's default for Neo sources.
func (s *SourceConfig) DefaultStart() time.Duration { return DefaultStart }

// New builds the Neo client the keys describe.
func (s *SourceConfig) New(su source.Setup) (source.Source, error) {
	c, err := New(Config{
		APIURL: s.APIURL, Account: su.Account, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		Filter: s.Filter, Timeout: s.Timeout, MaxRequestsPerSecond: s.MaxRequestsPerSecond,
		MaxElapsed: su.MaxElapsed, CAFile: s.CAFile, MaxPageBytes: s.MaxPageBytes,
		Dedupe: su.Dedupe, MaxPagesPerWindow: s.MaxPagesPerWindow, RetentionDays: s.RetentionDays, BigPages: su.BigPages,
	}, su.Log)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Hint suggests what to do about a Neo source that failed check.
func (s *SourceConfig) Hint(err error) string {
	var status *apiclient.StatusError
	switch {
	case apiclient.NetworkHint(err) != "":
		return apiclient.NetworkHint(err)
	case errors.Is(err, apiclient.ErrCredentialsRefused):
		return "check source.client_id and source.client_secret; a Platform API client is created in the cockpit under Security > OAuth > Platform API"
	case errors.As(err, &status) && status.Code == http.StatusForbidden:
		return "the API client needs the scope \"Read Audit Logs\", and source.account must be the subaccount's technical name, not its display name"
	case errors.As(err, &status) && status.Code == http.StatusNotFound:
		return "check source.api_url (the region host of the subaccount) and source.account (its technical name)"
	case errors.As(err, &status) && status.Code == http.StatusUnauthorized:
		return "the API rejects the token: the API client needs the scope \"Read Audit Logs\""
	}
	return "see the message; run with log.level: debug for every request"
}
