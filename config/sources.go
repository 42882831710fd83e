package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"gopkg.in/yaml.v3"
)

// SourceSettings are one source type's own keys (beside type and
// account), as its package declares, checks and builds them
// (odata.SourceConfig, cfaudit.SourceConfig). They are decoded from the
// source's mapping, strictly: a key none of the type's fields has is an
// error.
type SourceSettings interface {
	// Validate checks the keys without I/O, naming every problem by its
	// path under p (source, accounts[2]).
	Validate(p string) source.FieldErrors
	// Files are the keys that name files or directories: relative ones
	// are taken relative to the configuration file's directory.
	Files() []*string
	// ReadFiles reads and checks the files the keys name (a secret file is
	// read into its key), when the configuration is loaded.
	ReadFiles(p string) source.FieldErrors
	// CredentialKeys are the keys only reaching the API needs: commands
	// that never ask it load without them.
	CredentialKeys() []string
	// Secrets are the secrets given, for scrubbing text no client saw.
	Secrets() []string
	// DefaultStart is how far back a first run starts (inside the API's
	// retention); export.start defaults to the longest of its sources'.
	DefaultStart() time.Duration
	// New builds the source, reading afresh what it needs of files.
	New(source.Setup) (source.Source, error)
	// Hint suggests what to do about an error of check's token or read.
	Hint(err error) string
}

// SourceType is one value of source.type and the keys it takes.
type SourceType struct {
	Name string
	// New returns the type's keys with the defaults of the optional ones.
	New func() SourceSettings
}

// Registry is every kind of part a configuration may name, an explicit
// value (no registration at init): Builtin is the program's; a test
// appends its own types to a copy and loads with its Load or Parse.
type Registry struct {
	// Sources are the source types; the first is source.type's default.
	Sources []SourceType
	// Sinks are the sink types, by sinks[].type.
	Sinks SinkTypes
}

// Builtin returns the registry of this program: a new source type is one
// line here, a new sink type one line in DefaultSinkTypes.
func Builtin() Registry {
	return Registry{
		Sources: []SourceType{
			{Name: SourceNeo, New: func() SourceSettings { return odata.NewSourceConfig() }},
			{Name: SourceCF, New: func() SourceSettings { return cfaudit.NewSourceConfig() }},
		},
		Sinks: DefaultSinkTypes(),
	}
}

// Source types of Builtin.
const (
	SourceNeo = "neo"
	SourceCF  = "cf"
)

// sourceType returns the type of a name, nil for none.
func (r Registry) sourceType(name string) *SourceType {
	for i := range r.Sources {
		if r.Sources[i].Name == name {
			return &r.Sources[i]
		}
	}
	return nil
}

func (r Registry) sourceNames() string {
	var names []string
	for _, t := range r.Sources {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// SourceConfig is one account to export: its type (the Registry's first,
// neo, when not given), its name, and the keys of its type.
type SourceConfig struct {
	// Type is the API: neo (default) or cf.
	Type    string `yaml:"type"`
	Account string `yaml:"account"`
	// Settings are the keys of the type, nil when the type is unknown.
	Settings SourceSettings `yaml:"-"`

	node *yaml.Node // the mapping, decoded into Settings once the type is known
}

// sourceHead is what config reads of a source itself.
type sourceHead struct {
	Type    string `yaml:"type"`
	Account string `yaml:"account"`
}

// UnmarshalYAML decodes type and account and keeps the mapping for the
// type's keys.
func (s *SourceConfig) UnmarshalYAML(n *yaml.Node) error {
	var head sourceHead
	if n.Kind == yaml.MappingNode {
		s.node = n
	}
	err := n.Decode(&head)
	s.Type, s.Account = head.Type, head.Account
	return err
}

// sourceKeys are the keys of a source's mapping of type t (nil: of any
// type), with what each decodes into.
func (r Registry) sourceKeys(t *SourceType) map[string]reflect.Type {
	keys := yamlFields(reflect.TypeOf(SourceConfig{}))
	for _, st := range r.Sources {
		if t == nil || t.Name == st.Name {
			for k, v := range yamlFields(reflect.TypeOf(st.New())) {
				keys[k] = v
			}
		}
	}
	return keys
}

// typesWith names the source types that have key ("" for none).
func (r Registry) typesWith(key string) string {
	var names []string
	for _, st := range r.Sources {
		if _, ok := yamlFields(reflect.TypeOf(st.New()))[key]; ok {
			names = append(names, st.Name)
		}
	}
	return strings.Join(names, " or ")
}

// decodeSources decodes each source's keys into the Settings of its type
// (the default type when none is given), adding the type errors.
func (c *Config) decodeSources(lines map[int]string, errs *FieldErrors) {
	each := func(s *SourceConfig) {
		if s.Type == "" {
			s.Type = c.registry.Sources[0].Name
		}
		t := c.registry.sourceType(s.Type)
		if t == nil {
			return
		}
		s.Settings = t.New()
		n := s.node
		s.node = nil
		if n == nil {
			return // not a mapping: the decoder said so
		}
		if err := n.Decode(s.Settings); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				errs.add("(file)", "%v", err)
				return
			}
			for _, msg := range te.Errors {
				*errs = append(*errs, typeError(msg, lines))
			}
		}
	}
	if c.Source != nil {
		each(c.Source)
	}
	for i := range c.Accounts {
		each(&c.Accounts[i])
	}
}

// Sources returns the configured accounts, from source: or accounts:.
func (c *Config) Sources() []SourceConfig {
	if c.Source != nil {
		return []SourceConfig{*c.Source}
	}
	return c.Accounts
}

// sourcePath is the path of the i-th of Sources in the file.
func (c *Config) sourcePath(i int) string {
	if c.Source != nil {
		return "source"
	}
	return fmt.Sprintf("accounts[%d]", i)
}

// Secrets are the configured client secrets in every form they travel
// (apiclient.SecretsOf), for scrubbing text no client saw: the lines the
// standard library logs.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range c.Sources() {
		if s.Settings != nil {
			out = append(out, s.Settings.Secrets()...)
		}
	}
	return out
}

// defaultStart is export.start's default: the longest of the sources'
// own (the default type's without any).
func (c *Config) defaultStart() string {
	var d time.Duration
	for _, s := range c.Sources() {
		if s.Settings != nil {
			d = max(d, s.Settings.DefaultStart())
		}
	}
	if d == 0 {
		d = c.registry.Sources[0].New().DefaultStart()
	}
	return fmt.Sprintf("-%dh", d/time.Hour)
}

// MaxAccountLength bounds source.account: file names hold it, beside the
// window and the format, and must fit in 255 bytes.
const MaxAccountLength = 100

var accountRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (c *Config) validateSources(errs *FieldErrors) {
	switch {
	case c.Source != nil && len(c.Accounts) > 0:
		errs.add("accounts", "set either source or accounts, not both")
	case c.Source == nil && len(c.Accounts) == 0:
		errs.add("source", "required (or accounts: a list of sources)")
	}
	seen := map[string]string{}
	for i, s := range c.Sources() {
		p := c.sourcePath(i)
		switch {
		case s.Account == "":
			errs.add(p+".account", "required: the subaccount's technical name (not its display name)")
		case len(s.Account) > MaxAccountLength:
			errs.add(p+".account", "%d characters: longer than %d (output file names hold the account and must fit in 255 bytes); use the technical name", len(s.Account), MaxAccountLength)
		case !accountRE.MatchString(s.Account):
			errs.add(p+".account", "%q is not a technical subaccount name", s.Account)
		}
		if s.Settings == nil {
			errs.add(p+".type", "%q is not one of: %s", s.Type, c.registry.sourceNames())
		} else {
			errs.addAll(s.Settings.Validate(p))
		}
		if prev, dup := seen[s.Account]; dup && s.Account != "" {
			errs.add(p+".account", "%q is also configured at %s", s.Account, prev)
		}
		seen[s.Account] = p
	}
}

// readSourceFiles reads and checks the files the sources name.
func (c *Config) readSourceFiles(errs *FieldErrors) {
	for i, s := range c.Sources() {
		if s.Settings != nil {
			errs.addAll(s.Settings.ReadFiles(c.sourcePath(i)))
		}
	}
}

// sourceFiles are the sources' keys that name files.
func (c *Config) sourceFiles() []*string {
	var out []*string
	for _, s := range c.Sources() {
		if s.Settings != nil {
			out = append(out, s.Settings.Files()...)
		}
	}
	return out
}

// isCredential reports whether a problem's path is one of a source's
// credentials (source.client_secret, accounts[2].service_key_file, ...).
func (c *Config) isCredential(path string) bool {
	if !strings.HasPrefix(path, "source.") && !strings.HasPrefix(path, "accounts[") {
		return false
	}
	key := path[strings.LastIndex(path, ".")+1:]
	for _, t := range c.registry.Sources {
		if slices.Contains(t.New().CredentialKeys(), key) {
			return true
		}
	}
	return false
}
