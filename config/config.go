// Package config reads the configuration file (strictly: unknown keys,
// wrong types and every invalid value are reported with their path), fills
// in defaults, validates it section by section, and builds the parts it
// describes (sources, sinks, the state store) and the Exporter over them.
// It also proves a configuration end to end (check). A source's keys are
// its package's (odata, cfaudit), found by source.type in one Registry;
// Parse reads no file, Resolve (run by Load) reads the files named.
package config

import (
	"crypto/ed25519"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
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
	// registry: the types the file was decoded with.
	registry Registry
	// trusted, when set, the only keys signatures are checked with.
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
	DefaultMaxElapsed = 10 * time.Minute
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

// UnmarshalYAML applies defaults before decoding a sink.
func (s *SinkConfig) UnmarshalYAML(n *yaml.Node) error {
	*s = SinkConfig{Type: "file", Format: "jsonl", Schema: "sap"}
	type plain SinkConfig
	return n.Decode((*plain)(s))
}

// applyDefaults fills in what depends on other values (a sink's
// compression depends on its format); plain defaults come from
// DefaultConfig before decoding.
func (c *Config) applyDefaults() {
	if c.Export.Start == "" {
		c.Export.Start = c.defaultStart()
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
// hours later), the sources' files are read (client_secret_file into
// client_secret) and the signing key is loaded.
func (c *Config) checkFiles() FieldErrors {
	var errs FieldErrors
	if d := c.Export.SpoolDir; d != "" {
		if fi, err := os.Stat(d); err != nil {
			errs.add("export.spool_dir", "%v", err)
		} else if !fi.IsDir() {
			errs.add("export.spool_dir", "%s is not a directory", d)
		}
	}
	c.readSourceFiles(&errs)
	if f := c.Evidence.SigningKeyFile; f != "" {
		if _, err := evidence.LoadSigner(f); err != nil {
			errs.add("evidence.signing_key_file", "%v", err)
		}
	}
	return errs
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
	for _, f := range c.sourceFiles() {
		abs(f)
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
