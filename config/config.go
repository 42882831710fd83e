// Package config reads the configuration file (strictly: unknown keys,
// wrong types and every invalid value are reported with their path), fills
// in defaults, validates it section by section, and builds the parts it
// describes (sources, sinks, the state store) and the Exporter over them.
// It also proves a configuration end to end (check).
package config

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/schema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	s3dest "github.com/auditlog-exporter/auditlog-exporter/sinks/s3"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/stream"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"gopkg.in/yaml.v3"
)

// Config is the YAML configuration file.
type Config struct {
	// PlainSecrets lists the paths of client secrets written in the file
	// itself instead of through ${VAR} or client_secret_file.
	PlainSecrets []string `yaml:"-"`
	// offline: loaded by LoadOffline; the sources are never asked.
	offline bool
	// types are the sink types the file may name (nil: DefaultSinkTypes);
	// trusted, when set, the only keys signatures are checked with.
	types   SinkTypes
	trusted []ed25519.PublicKey

	Source   *SourceConfig  `yaml:"source"`
	Accounts []SourceConfig `yaml:"accounts"`
	Export   ExportConfig   `yaml:"export"`
	Retry    RetryConfig    `yaml:"retry"`
	State    StateConfig    `yaml:"state"`
	Sinks    []SinkConfig   `yaml:"sinks"`
	Evidence EvidenceConfig `yaml:"evidence"`
	Metrics  MetricsConfig  `yaml:"metrics"`
	Log      LogConfig      `yaml:"log"`
}

// SourceConfig is one account to export: a Neo subaccount (type neo, the
// default) or a Cloud Foundry subaccount or global account (type cf).
type SourceConfig struct {
	// Type is the API: neo (default) or cf.
	Type                 string        `yaml:"type"`
	APIURL               string        `yaml:"api_url"`
	Account              string        `yaml:"account"`
	ClientID             string        `yaml:"client_id"`
	ClientSecret         string        `yaml:"client_secret"`
	ClientSecretFile     string        `yaml:"client_secret_file"`
	Filter               string        `yaml:"filter"`
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

	// Cloud Foundry only. ServiceKeyFile is the service key as
	// `cf service-key` prints it; or api_url, token_url (uaa.url, or
	// uaa.certurl for x509), client_id and client_secret[_file] or
	// cert_file + key_file, given one by one. Files are read afresh for
	// every run (an x509 certificate may be valid for a day).
	ServiceKeyFile string `yaml:"service_key_file"`
	TokenURL       string `yaml:"token_url"`
	CertFile       string `yaml:"cert_file"`
	KeyFile        string `yaml:"key_file"`
	// CredentialsDir is Kyma's Secret auditlog-read-credentials (keys
	// url, clientID, clientSecret, tokenUrl) mounted as a directory, read
	// afresh for every run.
	CredentialsDir string `yaml:"credentials_dir"`
}

// Source types.
const (
	SourceNeo = "neo"
	SourceCF  = "cf"
)

// ExportConfig is the window grid and pacing.
type ExportConfig struct {
	Start  string        `yaml:"start"`
	Window time.Duration `yaml:"window"`
	Lag    time.Duration `yaml:"lag"`
	// LookBack: each run re-checks the windows exported within this long
	// before the watermark and appends their late records (0: off).
	LookBack time.Duration `yaml:"lookback"`
	Parallel int           `yaml:"parallel"`
	// MaxWindowsInFlight bounds the windows in flight across the whole run
	// (all accounts, all parallel workers): the knob that trades memory
	// for speed.
	MaxWindowsInFlight int    `yaml:"max_windows_in_flight"`
	SpoolDir           string `yaml:"spool_dir"`
	// SpillThreshold is how many distinct records of a window are checked
	// for duplicates in memory; the rest are checked on disk in SpoolDir.
	SpillThreshold int64 `yaml:"spill_threshold"`
	// RetentionMargin: a watermark (or backfill start) closer than this to
	// the retention horizon is warned about.
	RetentionMargin time.Duration `yaml:"retention_margin"`
}

// RetryConfig bounds retries.
type RetryConfig struct {
	MaxElapsed time.Duration `yaml:"max_elapsed"`
}

// StateConfig selects the watermark store.
type StateConfig struct {
	Type      string `yaml:"type"`
	Path      string `yaml:"path"`
	Bucket    string `yaml:"bucket"`
	Key       string `yaml:"key"`
	Prefix    string `yaml:"prefix"`
	Region    string `yaml:"region"`
	Endpoint  string `yaml:"endpoint"`
	PathStyle bool   `yaml:"path_style"`
}

// SinkConfig is one output.
type SinkConfig struct {
	Type   string `yaml:"type"`
	Format string `yaml:"format"`
	// Schema is what a record is written as: sap (the record schema) or
	// ocsf (OCSF 1.1.0 events).
	Schema string `yaml:"schema"`
	// Layout names the objects: hive (account=/date=) or security-lake
	// (region=/accountId=/eventDay=, one OCSF class per custom source).
	Layout string `yaml:"layout"`
	// SecurityLakeAccountID is the custom source's account ID or external
	// ID (layout security-lake).
	SecurityLakeAccountID string `yaml:"security_lake_account_id"`
	Compression           string `yaml:"compression"`
	// The keys of each type of destination, as its package defines them,
	// decoded inline (sinks[].path, sinks[].bucket ...): a sink sets only
	// its own type's, and no two types share a key.
	File   file.Config   `yaml:",inline"`
	S3     s3dest.Config `yaml:",inline"`
	Stdout stream.Config `yaml:",inline"`
}

// EvidenceConfig shapes the evidence written for auditors.
type EvidenceConfig struct {
	// SigningKeyFile is an Ed25519 private key (PKCS #8 PEM) that signs
	// every manifest and seal; read afresh at every build.
	SigningKeyFile string `yaml:"signing_key_file"`
}

// MetricsConfig is where metrics go.
type MetricsConfig struct {
	PushgatewayURL string `yaml:"pushgateway_url"`
	Textfile       string `yaml:"textfile"`
	Listen         string `yaml:"listen"`
}

// LogConfig is the log level and format.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Defaults.
const (
	DefaultWindow = time.Hour
	DefaultLag    = 15 * time.Minute
	// DefaultLookBack is export.lookback's default: late records come
	// mostly within 30 minutes, a few within a day.
	DefaultLookBack = 24 * time.Hour
	// MaxLookBack bounds export.lookback (the ledger in the state holds
	// every window of it).
	MaxLookBack       = 7 * 24 * time.Hour
	DefaultTimeout    = 60 * time.Second
	DefaultRPS        = 0.0 // no ceiling: the rate adapts to the API
	DefaultMaxElapsed = 10 * time.Minute
	// DefaultStart is 199 days, inside Neo's default retention of 201: a
	// first run exports everything the API still holds, with two days to
	// get there before the oldest window's records are deleted.
	DefaultStart = "-4776h"
	// DefaultStartCF is 88 days, inside the Cloud Foundry API's retention
	// of 90: the default when every source is of type cf.
	DefaultStartCF = "-2112h"
	// MaxParallel bounds windows in flight per account.
	MaxParallel = 64
	// DefaultMaxWindowsInFlight: a window in flight costs about 15 MiB
	// (Parquet, measured), so 16 stay within 300 MiB with room to spare
	// under the Kubernetes example's 768 MiB limit.
	DefaultMaxWindowsInFlight = 16
	// DefaultRetentionMargin is export.retention_margin's default.
	DefaultRetentionMargin = 7 * 24 * time.Hour
)

// DefaultConfig returns a Config with every default set and no source or sink.
func DefaultConfig() *Config {
	return &Config{
		Export: ExportConfig{MaxWindowsInFlight: DefaultMaxWindowsInFlight, Window: DefaultWindow, Lag: DefaultLag, LookBack: DefaultLookBack, Parallel: 1, SpillThreshold: source.DefaultSpillThreshold, RetentionMargin: DefaultRetentionMargin},
		Retry:  RetryConfig{MaxElapsed: DefaultMaxElapsed},
		State:  StateConfig{Type: "file", Path: "./state"},
		Log:    LogConfig{Level: "info", Format: "json"},
	}
}

// DefaultSource returns a SourceConfig with the defaults of optional keys.
func DefaultSource() SourceConfig {
	return SourceConfig{Timeout: DefaultTimeout, MaxRequestsPerSecond: DefaultRPS, MaxPageBytes: odata.DefaultMaxPageBytes, MaxPagesPerWindow: odata.DefaultMaxPagesPerWindow}
}

// UnmarshalYAML applies defaults before decoding a source.
func (s *SourceConfig) UnmarshalYAML(n *yaml.Node) error {
	*s = DefaultSource()
	type plain SourceConfig
	return n.Decode((*plain)(s))
}

// UnmarshalYAML applies defaults before decoding a sink.
func (s *SinkConfig) UnmarshalYAML(n *yaml.Node) error {
	*s = SinkConfig{Type: "file", Format: "jsonl", Schema: "sap"}
	type plain SinkConfig
	return n.Decode((*plain)(s))
}

// FieldError is one problem with one configuration key.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// FieldErrors lists every problem found; it is a Config-class error.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func (es *FieldErrors) add(path, format string, args ...any) {
	*es = append(*es, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return errclass.Mark(errclass.Config, es)
}

// Load reads, decodes and validates a configuration file, reads secret
// files, and returns every problem at once.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := safefile.ReadFile(path, MaxConfigBytes)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("config: %w", err))
	}
	cfg, errs, err := parse(data, filepath.Dir(path), lookupEnv)
	if err == nil {
		err = errs.err()
	}
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	return cfg, nil
}

// Parse decodes strictly (unknown keys are errors), expands ${VAR} in
// values, applies defaults, validates, and reads client_secret_file.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	cfg, errs, err := parse(data, "", lookupEnv)
	if err != nil {
		return nil, err
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse is Parse, returning what it decoded beside the problems it found
// (err: nothing could be decoded). Relative paths in it are taken
// relative to dir ("": the working directory).
func parse(data []byte, dir string, lookupEnv func(string) (string, bool)) (*Config, FieldErrors, error) {
	return parseWith(data, dir, lookupEnv, nil)
}

// parseWith is parse with the sink types the file may name (nil:
// DefaultSinkTypes).
func parseWith(data []byte, dir string, lookupEnv func(string) (string, bool), types SinkTypes) (*Config, FieldErrors, error) {
	if len(data) > MaxConfigBytes {
		return nil, nil, errclass.Mark(errclass.Config, fmt.Errorf("larger than %d bytes: not an auditlog-exporter configuration", MaxConfigBytes))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, errclass.Mark(errclass.Config, fmt.Errorf("not valid YAML: %w", err))
	}
	cfg := DefaultConfig()
	cfg.types = types
	if len(doc.Content) == 0 {
		return nil, nil, FieldErrors{{Path: "(file)", Msg: "empty configuration"}}.err()
	}
	var errs FieldErrors
	lines := map[int]string{}
	var plain []string
	dup := false
	walk(doc.Content[0], reflect.TypeOf(cfg).Elem(), "", &errs, lines, &plain, &dup, lookupEnv)
	if len(errs) >= maxConfigErrors {
		errs = append(errs, FieldError{Path: "(file)", Msg: "more problems are not listed; fix these first"})
		// Decoding a mapping of many keys costs time that grows with their
		// square; what is wrong is said already.
		return nil, nil, errs.err()
	}
	if dup {
		// The decoder would report each pair of repeated keys again.
		return nil, nil, errs.err()
	}
	if err := doc.Content[0].Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, nil, errclass.Mark(errclass.Config, err)
		}
		for _, msg := range te.Errors {
			errs = append(errs, typeError(msg, lines))
		}
	}
	cfg.applyDefaults()
	cfg.resolvePaths(dir)
	errs = append(errs, cfg.validate()...)
	errs = append(errs, cfg.checkFiles()...)
	cfg.PlainSecrets = plain
	return cfg, errs, nil
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeError turns "line 7: cannot unmarshal ..." into a path error.
func typeError(msg string, lines map[int]string) FieldError {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		text := m[2]
		text = strings.Replace(text, "into time.Duration", "into a duration (like 90s, 15m, 1h)", 1)
		if p, ok := lines[n]; ok {
			return FieldError{Path: p, Msg: text}
		}
		return FieldError{Path: "line " + m[1], Msg: text}
	}
	return FieldError{Path: "(file)", Msg: msg}
}

// MaxAccountLength bounds source.account: file names hold it, beside the
// window and the format, and must fit in 255 bytes.
const MaxAccountLength = 100

// MaxConfigBytes is the largest configuration read (a real one is a few KiB).
const MaxConfigBytes = 1 << 20

// MaxSecretFileBytes is the largest client_secret_file, cert_file or
// key_file read (a secret is a few dozen bytes, a certificate chain a few
// KiB).
const MaxSecretFileBytes = 1 << 20

// maxConfigErrors is how many problems are listed; more are summarized.
const maxConfigErrors = 50

var envRE = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`)

// walk checks keys against t's yaml tags, recording unknown ones, expands
// ${VAR} in scalars, and remembers which path each line holds.
// yamlFields adds the keys of struct type t and their types, those of
// its inline fields included.
func yamlFields(t reflect.Type, fields map[string]reflect.Type, names *[]string) {
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")
		if len(tag) > 1 && tag[0] == "" && tag[1] == "inline" && t.Field(i).Type.Kind() == reflect.Struct {
			yamlFields(t.Field(i).Type, fields, names)
			continue
		}
		if tag[0] != "" && tag[0] != "-" {
			fields[tag[0]] = t.Field(i).Type
			*names = append(*names, tag[0])
		}
	}
}

func walk(n *yaml.Node, t reflect.Type, path string, errs *FieldErrors, lines map[int]string, plain *[]string, dup *bool, lookupEnv func(string) (string, bool)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.AliasNode:
		errs.add(orRoot(path), "YAML aliases are not supported")
	case yaml.MappingNode:
		// A key given twice is an error (the YAML decoder would say so
		// too, but for every pair: quadratic in time and in lines).
		first := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, ok := first[k.Value]; ok {
				*dup = true
				if len(*errs) < maxConfigErrors {
					errs.add(join(path, k.Value), "given again on line %d (first on line %d)", k.Line, line)
				}
				continue
			}
			first[k.Value] = k.Line
		}
		if t.Kind() != reflect.Struct {
			return // the decoder reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		var names []string
		yamlFields(t, fields, &names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				if len(*errs) >= maxConfigErrors {
					continue
				}
				sort.Strings(names)
				errs.add(p, "unknown key (known keys here: %s)", strings.Join(names, ", "))
				continue
			}
			lines[k.Line] = p
			walk(v, ft, p, errs, lines, plain, dup, lookupEnv)
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, e := range n.Content {
			walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs, lines, plain, dup, lookupEnv)
		}
	case yaml.ScalarNode:
		lines[n.Line] = orRoot(path)
		if strings.HasSuffix(path, ".client_secret") && n.Value != "" && !strings.Contains(n.Value, "${") {
			*plain = append(*plain, path)
		}
		if strings.Contains(n.Value, "${") {
			var missing []string
			n.Value = envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
				if m == "$${" {
					return "${"
				}
				name := m[2 : len(m)-1]
				v, ok := lookupEnv(name)
				if !ok {
					missing = append(missing, name)
				}
				return v
			})
			for _, name := range missing {
				errs.add(orRoot(path), "environment variable %s is not set", name)
			}
			switch {
			case t.Kind() == reflect.String:
				// A string value is taken verbatim: a secret that reads
				// "null", "~" or "true" stays that text.
				n.Tag = "!!str"
			case n.Style == 0 || n.Style == yaml.TaggedStyle:
				n.Tag = "" // resolve the expanded value's type afresh
				switch n.Value {
				case "", "~", "null", "Null", "NULL":
					errs.add(orRoot(path), "expands to %q, which YAML reads as no value; set the variable to a value", n.Value)
				}
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// Sources returns the configured accounts, from source: or accounts:.
func (c *Config) Sources() []SourceConfig {
	if c.Source != nil {
		return []SourceConfig{*c.Source}
	}
	return c.Accounts
}

// Secrets are the configured client secrets in every form they travel
// (apiclient.SecretsOf), for scrubbing text no client saw: the lines the
// standard library logs.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range c.Sources() {
		out = append(out, apiclient.SecretsOf(s.ClientID, s.ClientSecret)...)
	}
	return out
}

var (
	accountRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	timeWordRE = regexp.MustCompile(`\bTime\b`)
)

// applyDefaults fills in what depends on other values (a sink's
// compression depends on its format); plain defaults come from
// DefaultConfig before decoding.
func (c *Config) applyDefaults() {
	allCF := len(c.Sources()) > 0
	for i := range c.Accounts {
		if c.Accounts[i].Type == "" {
			c.Accounts[i].Type = SourceNeo
		}
	}
	if c.Source != nil && c.Source.Type == "" {
		c.Source.Type = SourceNeo
	}
	for _, s := range c.Sources() {
		allCF = allCF && s.Type == SourceCF
	}
	if c.Export.Start == "" {
		c.Export.Start = DefaultStart
		if allCF {
			c.Export.Start = DefaultStartCF
		}
	}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		if s.Schema == "" {
			s.Schema = sap.Schema.Name()
		}
		if s.Layout == "" {
			s.Layout = LayoutHive
		}
		if s.Compression == "" {
			switch s.Format {
			case "jsonl":
				s.Compression = "none"
			case "parquet":
				s.Compression = "zstd"
			}
		}
	}
}

// validate checks every section and returns every problem with its path.
// It changes nothing and does no I/O (see checkFiles).
func (c *Config) validate() FieldErrors {
	var errs FieldErrors
	c.validateSources(&errs)
	c.Export.validate(&errs)
	c.Retry.validate(&errs)
	c.State.validate(len(c.Sources()), &errs)
	c.validateSinks(&errs)
	for i, sk := range c.Sinks {
		if sk.Layout == LayoutSecurityLake && c.Export.Window < 5*time.Minute {
			errs.add(fmt.Sprintf("sinks[%d].layout", i), "export.window %s: Security Lake wants a custom source's objects at most every 5 minutes; use 5m or more", c.Export.Window)
		}
	}
	c.Metrics.validate(&errs)
	c.Log.validate(&errs)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	return errs
}

func (c *Config) validateSources(errs *FieldErrors) {
	switch {
	case c.Source != nil && len(c.Accounts) > 0:
		errs.add("accounts", "set either source or accounts, not both")
	case c.Source == nil && len(c.Accounts) == 0:
		errs.add("source", "required (or accounts: a list of sources)")
	}
	seen := map[string]string{}
	for i, s := range c.Sources() {
		p := "source"
		if c.Source == nil {
			p = fmt.Sprintf("accounts[%d]", i)
		}
		s.validate(p, errs)
		if prev, dup := seen[s.Account]; dup && s.Account != "" {
			errs.add(p+".account", "%q is also configured at %s", s.Account, prev)
		}
		seen[s.Account] = p
	}
}

func (e ExportConfig) validate(errs *FieldErrors) {
	switch {
	case e.Window < time.Minute:
		errs.add("export.window", "%s is too small: the smallest window is 1m", e.Window)
	case (24*time.Hour)%e.Window != 0 || e.Window%time.Second != 0:
		errs.add("export.window", "%s does not divide 24h; use e.g. 5m, 10m, 15m, 30m, 1h, 2h, 3h, 4h, 6h, 12h or 24h", e.Window)
	}
	if e.Lag < 0 {
		errs.add("export.lag", "must not be negative")
	}
	if e.LookBack < 0 || e.LookBack > MaxLookBack {
		errs.add("export.lookback", "must be between 0 (off) and %s", MaxLookBack)
	} else if e.Window >= time.Minute && e.LookBack/e.Window > state.MaxLookBackWindows {
		errs.add("export.lookback", "%s holds more than %d windows of %s: shorten it or use a larger export.window", e.LookBack, state.MaxLookBackWindows, e.Window)
	}
	if e.SpillThreshold < 1 {
		errs.add("export.spill_threshold", "must be at least 1 (records)")
	}
	if e.RetentionMargin < 0 {
		errs.add("export.retention_margin", "must not be negative")
	}
	if e.Parallel < 1 || e.Parallel > MaxParallel {
		errs.add("export.parallel", "must be between 1 and %d", MaxParallel)
	}
	if e.MaxWindowsInFlight < 1 || e.MaxWindowsInFlight > 1024 {
		errs.add("export.max_windows_in_flight", "must be between 1 and 1024 (each window in flight costs about 15 MiB)")
	}
	// The form only: where a relative start lies is decided at run time.
	if _, err := exporter.ParseTimeArg(e.Start, time.Time{}); err != nil {
		errs.add("export.start", "%v", err)
	}
}

func (r RetryConfig) validate(errs *FieldErrors) {
	if r.MaxElapsed <= 0 {
		errs.add("retry.max_elapsed", "must be positive")
	}
}

func (st StateConfig) validate(accounts int, errs *FieldErrors) {
	switch st.Type {
	case "file":
		if st.Path == "" {
			errs.add("state.path", "required for state type file")
		}
		for k, v := range map[string]string{"bucket": st.Bucket, "key": st.Key, "prefix": st.Prefix, "region": st.Region, "endpoint": st.Endpoint} {
			if v != "" {
				errs.add("state."+k, "only for state type s3")
			}
		}
	case "s3":
		if st.Bucket == "" {
			errs.add("state.bucket", "required for state type s3")
		}
		if st.Key != "" && st.Prefix != "" {
			errs.add("state.key", "set either key or prefix, not both")
		}
		if st.Key != "" && accounts > 1 {
			errs.add("state.key", "one key cannot hold the state of %d accounts; use prefix", accounts)
		}
		validateEndpoint("state.endpoint", st.Endpoint, errs)
	default:
		errs.add("state.type", "%q is not one of: file, s3", st.Type)
	}
}

func (m MetricsConfig) validate(errs *FieldErrors) {
	if m.PushgatewayURL != "" {
		if u, err := url.Parse(m.PushgatewayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.add("metrics.pushgateway_url", "%s is not an http(s) URL like http://pushgateway:9091", apiclient.ShowURL(m.PushgatewayURL))
		}
	}
	if m.Listen != "" {
		if _, port, err := net.SplitHostPort(m.Listen); err != nil || port == "" {
			errs.add("metrics.listen", "%q is not an address like :9464 or 127.0.0.1:9464", m.Listen)
		}
	}
	if m.Textfile != "" && !strings.HasSuffix(m.Textfile, ".prom") {
		errs.add("metrics.textfile", "%q must end in .prom (node_exporter's textfile collector reads only those)", m.Textfile)
	}
}

func (l LogConfig) validate(errs *FieldErrors) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs.add("log.level", "%q is not one of: debug, info, warn, error", l.Level)
	}
	switch l.Format {
	case "json", "console":
	default:
		errs.add("log.format", "%q is not one of: json, console", l.Format)
	}
}

// checkFiles is the validation that needs the file system: the spool
// directory exists (checked now, not when the first large window needs it
// hours later), and client_secret_file is read into client_secret.
func (c *Config) checkFiles() FieldErrors {
	var errs FieldErrors
	if d := c.Export.SpoolDir; d != "" {
		if fi, err := os.Stat(d); err != nil {
			errs.add("export.spool_dir", "%v", err)
		} else if !fi.IsDir() {
			errs.add("export.spool_dir", "%s is not a directory", d)
		}
	}
	for i, s := range c.Sources() {
		p := "source"
		if c.Source == nil {
			p = fmt.Sprintf("accounts[%d]", i)
		}
		if s.Type != SourceCF {
			continue
		}
		if s.ServiceKeyFile != "" {
			if _, err := readServiceKey(s.ServiceKeyFile); err != nil {
				errs.add(p+".service_key_file", "%v", err)
			}
		}
		if s.CredentialsDir != "" {
			if _, err := cfaudit.ReadCredentialsDir(s.CredentialsDir); err != nil {
				errs.add(p+".credentials_dir", "%v", err)
			}
		}
		for k, f := range map[string]string{"cert_file": s.CertFile, "key_file": s.KeyFile} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				errs.add(p+"."+k, "%v", err)
			}
		}
	}
	if f := c.Evidence.SigningKeyFile; f != "" {
		if _, err := evidence.LoadSigner(f); err != nil {
			errs.add("evidence.signing_key_file", "%v", err)
		}
	}
	return append(errs, c.readSecretFiles()...)
}

// readServiceKey reads and parses a service key file.
func readServiceKey(path string) (cfaudit.ServiceKey, error) {
	b, err := safefile.ReadFile(path, cfaudit.MaxServiceKeyBytes)
	if err != nil {
		return cfaudit.ServiceKey{}, err
	}
	return cfaudit.ParseServiceKey(b)
}

func validateEndpoint(path, endpoint string, errs *FieldErrors) {
	if endpoint == "" {
		return
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs.add(path, "%s is not an http(s) URL like https://minio.example.com:9000", apiclient.ShowURL(endpoint))
	}
}

func (s SourceConfig) validate(p string, errs *FieldErrors) {
	switch {
	case s.Account == "":
		errs.add(p+".account", "required: the subaccount's technical name (not its display name)")
	case len(s.Account) > MaxAccountLength:
		errs.add(p+".account", "%d characters: longer than %d (output file names hold the account and must fit in 255 bytes); use the technical name", len(s.Account), MaxAccountLength)
	case !accountRE.MatchString(s.Account):
		errs.add(p+".account", "%q is not a technical subaccount name", s.Account)
	}
	switch s.Type {
	case SourceNeo:
		s.validateNeo(p, errs)
	case SourceCF:
		s.validateCF(p, errs)
	default:
		errs.add(p+".type", "%q is not one of: neo, cf", s.Type)
	}
	if s.Timeout <= 0 {
		errs.add(p+".timeout", "must be positive")
	}
	if s.MaxRequestsPerSecond < 0 {
		errs.add(p+".max_requests_per_second", "must not be negative (0 means no ceiling: the rate adapts to the API's limit)")
	}
	if s.MaxPageBytes < 1<<20 {
		errs.add(p+".max_page_bytes", "must be at least 1048576 (1 MiB); a page of 1000 records is about 0.6 MB")
	}
	if s.MaxPagesPerWindow < 10 {
		errs.add(p+".max_pages_per_window", "must be at least 10")
	}
	if s.RetentionDays < 0 || s.RetentionDays > 3650 {
		errs.add(p+".retention_days", "must be 0 (the API's own: asked on Neo, 90 days on Cloud Foundry) or 1 to 3650 days")
	}
}

func (s SourceConfig) validateNeo(p string, errs *FieldErrors) {
	if _, err := odata.ParseAPIURL(s.APIURL); err != nil {
		errs.add(p+".api_url", "%v", strings.TrimPrefix(err.Error(), "api_url "))
	}
	if s.ClientID == "" {
		errs.add(p+".client_id", "required")
	}
	switch {
	case s.ClientSecret != "" && s.ClientSecretFile != "":
		errs.add(p+".client_secret", "set either client_secret or client_secret_file, not both")
	case s.ClientSecret == "" && s.ClientSecretFile == "":
		errs.add(p+".client_secret", "required (or client_secret_file)")
	}
	if timeWordRE.MatchString(s.Filter) {
		errs.add(p+".filter", "must not filter on Time: the exporter sets the time range of each window")
	}
	for k, v := range map[string]string{"service_key_file": s.ServiceKeyFile, "token_url": s.TokenURL, "cert_file": s.CertFile, "key_file": s.KeyFile, "credentials_dir": s.CredentialsDir} {
		if v != "" {
			errs.add(p+"."+k, "only for type cf")
		}
	}
}

func (s SourceConfig) validateCF(p string, errs *FieldErrors) {
	if s.Filter != "" {
		errs.add(p+".filter", "only for type neo (the Cloud Foundry API filters only by category, which some landscapes refuse)")
	}
	if s.ServiceKeyFile != "" && s.CredentialsDir != "" {
		errs.add(p+".credentials_dir", "set either service_key_file or credentials_dir, not both")
		return
	}
	for file, v := range map[string]string{"service_key_file": s.ServiceKeyFile, "credentials_dir": s.CredentialsDir} {
		if v == "" {
			continue
		}
		for k, v := range map[string]string{"api_url": s.APIURL, "token_url": s.TokenURL, "client_id": s.ClientID, "client_secret": s.ClientSecret,
			"client_secret_file": s.ClientSecretFile, "cert_file": s.CertFile, "key_file": s.KeyFile} {
			if v != "" {
				errs.add(p+"."+k, "set either %s or the explicit keys, not both", file)
			}
		}
		return
	}
	for k, v := range map[string]string{"api_url": s.APIURL, "token_url": s.TokenURL} {
		if err := cfaudit.CheckURL(v); err != nil {
			errs.add(p+"."+k, "%v (or service_key_file: the output of `cf service-key`; or credentials_dir: Kyma's Secret auditlog-read-credentials)", err)
		}
	}
	if s.ClientID == "" {
		errs.add(p+".client_id", "required (or service_key_file, or credentials_dir)")
	}
	secret := s.ClientSecret != "" || s.ClientSecretFile != ""
	cert := s.CertFile != "" || s.KeyFile != ""
	switch {
	case s.ClientSecret != "" && s.ClientSecretFile != "":
		errs.add(p+".client_secret", "set either client_secret or client_secret_file, not both")
	case secret && cert:
		errs.add(p+".cert_file", "set either a client secret or cert_file and key_file (x509), not both")
	case !secret && !cert:
		errs.add(p+".client_secret", "required (or client_secret_file, or cert_file and key_file for an x509 key, or service_key_file)")
	case cert && (s.CertFile == "" || s.KeyFile == ""):
		errs.add(p+".cert_file", "cert_file and key_file go together")
	}
}

// readSecretFiles loads client_secret_file values.
func (c *Config) readSecretFiles() FieldErrors {
	var errs FieldErrors
	fix := func(p string, s *SourceConfig) {
		if s.ClientSecretFile == "" {
			return
		}
		b, err := safefile.ReadFile(s.ClientSecretFile, MaxSecretFileBytes)
		if err != nil {
			errs.add(p+".client_secret_file", "cannot read the secret: %v", err)
			return
		}
		secret := string(bytes.TrimRight(b, "\r\n"))
		if secret == "" {
			errs.add(p+".client_secret_file", "%s is empty", s.ClientSecretFile)
			return
		}
		s.ClientSecret = secret
	}
	if c.Source != nil {
		fix("source", c.Source)
	}
	for i := range c.Accounts {
		fix(fmt.Sprintf("accounts[%d]", i), &c.Accounts[i])
	}
	return errs
}

// resolvePaths makes the relative paths of the file (state, file sinks,
// secret, key and certificate files, spool_dir, textfile) relative to
// dir, the file's directory: what a run reads and writes does not depend
// on where it was started from.
func (c *Config) resolvePaths(dir string) {
	if dir == "" {
		return
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for _, s := range []*SourceConfig{c.Source} {
		if s != nil {
			abs(&s.ClientSecretFile)
			abs(&s.CAFile)
			abs(&s.ServiceKeyFile)
			abs(&s.CertFile)
			abs(&s.KeyFile)
			abs(&s.CredentialsDir)
		}
	}
	for i := range c.Accounts {
		s := &c.Accounts[i]
		abs(&s.ClientSecretFile)
		abs(&s.CAFile)
		abs(&s.ServiceKeyFile)
		abs(&s.CertFile)
		abs(&s.KeyFile)
		abs(&s.CredentialsDir)
	}
	abs(&c.Export.SpoolDir)
	if c.State.Type == "file" {
		abs(&c.State.Path)
	}
	for i := range c.Sinks {
		if c.Sinks[i].Type == "file" {
			abs(&c.Sinks[i].File.Path)
		}
	}
	abs(&c.Evidence.SigningKeyFile)
	abs(&c.Metrics.Textfile)
}

// schemas are what a sink may write records as.
var schemas = []schema.Schema{sap.Schema, ocsf.Schema}

// schemaOf returns the schema of a name, nil for none.
func schemaOf(name string) schema.Schema {
	for _, sc := range schemas {
		if sc.Name() == name {
			return sc
		}
	}
	return nil
}

func schemaNames() []string {
	var names []string
	for _, sc := range schemas {
		names = append(names, sc.Name())
	}
	return names
}

// format is what the sink writes: its encoding in its schema.
func (s SinkConfig) format(version string) sinks.Format {
	sc := schemaOf(s.Schema)
	if s.Format == "parquet" {
		return sinks.Parquet{Compression: s.Compression, Version: version, Schema: sc}
	}
	return sinks.JSONL{Gzip: s.Compression == "gzip", Schema: sc}
}

// Object layouts.
const (
	LayoutHive         = "hive"
	LayoutSecurityLake = "security-lake"
)

// ClassPlaceholder in an S3 sink's prefix is replaced by each OCSF class's
// name ("api-activity"): one sink per class.
const ClassPlaceholder = "{class}"

// securityLakeID is what a Security Lake custom source's account ID or
// external ID may hold (it becomes a key's path segment).
var securityLakeID = regexp.MustCompile(`^[A-Za-z0-9_+=,.@:-]{2,128}$`)

// validateLayout checks the layout, the Security Lake account ID and the
// {class} placeholder.
func (s SinkConfig) validateLayout(p string, errs *FieldErrors) {
	perClass := strings.Contains(s.S3.Prefix, ClassPlaceholder)
	switch s.Layout {
	case LayoutHive:
		if s.SecurityLakeAccountID != "" {
			errs.add(p+".security_lake_account_id", "only for layout %s", LayoutSecurityLake)
		}
	case LayoutSecurityLake:
		switch {
		case s.Type != "s3":
			errs.add(p+".layout", "%s is for sink type s3 (the Security Lake bucket)", LayoutSecurityLake)
		case s.Schema != ocsf.Schema.Name():
			errs.add(p+".schema", "layout %s takes OCSF events: set schema: ocsf", LayoutSecurityLake)
		case s.Format != "parquet":
			errs.add(p+".format", "layout %s takes Parquet: set format: parquet", LayoutSecurityLake)
		case !perClass:
			errs.add(p+".prefix", "layout %s needs %s in the prefix (e.g. ext/sap-btp-%s/): Security Lake takes one OCSF class per custom source", LayoutSecurityLake, ClassPlaceholder, ClassPlaceholder)
		case s.S3.Region == "":
			errs.add(p+".region", "required with layout %s (it names the region= partition)", LayoutSecurityLake)
		}
		if !securityLakeID.MatchString(s.SecurityLakeAccountID) {
			errs.add(p+".security_lake_account_id", "required with layout %s: the custom source's AWS account ID or external ID (letters, digits, _+=,.@:-)", LayoutSecurityLake)
		}
	default:
		errs.add(p+".layout", "%q is not one of: %s, %s", s.Layout, LayoutHive, LayoutSecurityLake)
	}
	if perClass && s.Schema != ocsf.Schema.Name() {
		errs.add(p+".prefix", "%s is for schema ocsf (one OCSF class per prefix)", ClassPlaceholder)
	}
	if s.Type != "s3" && strings.Contains(s.File.Path, ClassPlaceholder) {
		errs.add(p+".path", "%s is for S3 prefixes", ClassPlaceholder)
	}
}

// classSlug is an OCSF class's name as it goes into a prefix
// ("api_activity" -> "api-activity").
func classSlug(c ocsf.Class) string { return strings.ReplaceAll(c.Name, "_", "-") }

// SecurityLakeSources lists, for a sink with {class} in its prefix, the
// prefix each OCSF class goes to and the custom source name it implies
// (the prefix's last element), for check.
func (s SinkConfig) SecurityLakeSources() (classes []ocsf.Class, prefixes []string) {
	if !strings.Contains(s.S3.Prefix, ClassPlaceholder) {
		return nil, nil
	}
	for _, c := range ocsf.Classes() {
		classes = append(classes, c)
		prefixes = append(prefixes, strings.ReplaceAll(s.S3.Prefix, ClassPlaceholder, classSlug(c)))
	}
	return classes, prefixes
}
