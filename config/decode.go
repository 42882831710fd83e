package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"gopkg.in/yaml.v3"
)

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

// addAll adds the problems a source's package found.
func (es *FieldErrors) addAll(list source.FieldErrors) {
	for _, e := range list {
		*es = append(*es, FieldError(e))
	}
}

func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return errclass.Mark(errclass.Config, es)
}

// Load reads, decodes and validates a configuration file, reads the files
// it names (Resolve), and returns every problem at once. It knows the
// Builtin source types.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	return Builtin().Load(path, lookupEnv)
}

// Parse decodes strictly (unknown keys are errors), expands ${VAR} in
// values, applies defaults and validates; it reads no file (Resolve does).
// It knows the Builtin source types.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	return Builtin().Parse(data, lookupEnv)
}

// Load is Load with the types of r.
func (r Registry) Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	cfg, errs, err := r.load(path, lookupEnv)
	if err == nil {
		err = errs.err()
	}
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	return cfg, nil
}

// load reads the file, parses it and reads the files it names, returning
// what it decoded beside the problems it found (err: nothing could be
// read or decoded).
func (r Registry) load(path string, lookupEnv func(string) (string, bool)) (*Config, FieldErrors, error) {
	data, err := safefile.ReadFile(path, MaxConfigBytes)
	if err != nil {
		return nil, nil, errclass.Mark(errclass.Config, fmt.Errorf("config: %w", err))
	}
	cfg, errs, err := r.parse(data, filepath.Dir(path), lookupEnv)
	if err != nil {
		return nil, nil, err
	}
	return cfg, append(errs, cfg.checkFiles()...), nil
}

// Parse is Parse with the types of r.
func (r Registry) Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	cfg, errs, err := r.parse(data, "", lookupEnv)
	if err != nil {
		return nil, err
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Resolve reads the files the configuration names (client_secret_file
// into its key; service keys, credentials directories, the signing key
// and the spool directory checked), as Load does after parsing: call it
// after Parse.
func (c *Config) Resolve() error { return c.checkFiles().err() }

// parse is Parse, returning what it decoded beside the problems it found
// (err: nothing could be decoded). Relative paths in it are taken
// relative to dir ("": the working directory).
func (r Registry) parse(data []byte, dir string, lookupEnv func(string) (string, bool)) (*Config, FieldErrors, error) {
	if len(data) > MaxConfigBytes {
		return nil, nil, errclass.Mark(errclass.Config, fmt.Errorf("larger than %d bytes: not an auditlog-exporter configuration", MaxConfigBytes))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, errclass.Mark(errclass.Config, fmt.Errorf("not valid YAML: %w", err))
	}
	cfg := DefaultConfig()
	cfg.registry = r
	if len(doc.Content) == 0 {
		return nil, nil, FieldErrors{{Path: "(file)", Msg: "empty configuration"}}.err()
	}
	w := walker{lines: map[int]string{}, lookupEnv: lookupEnv, registry: r}
	w.walk(doc.Content[0], reflect.TypeOf(cfg).Elem(), "")
	errs := w.errs
	if len(errs) >= maxConfigErrors {
		errs = append(errs, FieldError{Path: "(file)", Msg: "more problems are not listed; fix these first"})
		// Decoding a mapping of many keys costs time that grows with their
		// square; what is wrong is said already.
		return nil, nil, errs.err()
	}
	if w.dup {
		// The decoder would report each pair of repeated keys again.
		return nil, nil, errs.err()
	}
	if err := doc.Content[0].Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, nil, errclass.Mark(errclass.Config, err)
		}
		for _, msg := range te.Errors {
			errs = append(errs, typeError(msg, w.lines))
		}
	}
	cfg.decodeSources(w.lines, &errs)
	cfg.applyDefaults()
	cfg.resolvePaths(dir)
	errs = append(errs, cfg.validate()...)
	cfg.PlainSecrets = w.plain
	return cfg, errs, nil
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeError turns "line 7: cannot unmarshal ..." into a path error.
func typeError(msg string, lines map[int]string) FieldError {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		text := m[2]
		text = strings.Replace(text, "into time.Duration", "into a duration (like 90s, 15m, 1h)", 1)
		text = strings.Replace(text, "into config.sourceHead", "into a source (a mapping: type, account and the type's keys)", 1)
		if p, ok := lines[n]; ok {
			return FieldError{Path: p, Msg: text}
		}
		return FieldError{Path: "line " + m[1], Msg: text}
	}
	return FieldError{Path: "(file)", Msg: msg}
}

// MaxConfigBytes is the largest configuration read (a real one is a few KiB).
const MaxConfigBytes = 1 << 20

// maxConfigErrors is how many problems are listed; more are summarized.
const maxConfigErrors = 50

var envRE = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`)

// walker checks keys against the yaml tags of what they decode into,
// recording unknown ones, expands ${VAR} in scalars, and remembers which
// path each line holds.
type walker struct {
	errs      FieldErrors
	lines     map[int]string
	plain     []string // paths of client secrets written in plain text
	dup       bool     // a key is given twice
	lookupEnv func(string) (string, bool)
	registry  Registry
}

var sourceConfigType = reflect.TypeOf(SourceConfig{})

// yamlFields are the keys a struct type decodes, with their types
// (inlined structs' keys included).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		switch {
		case len(tag) > 1 && tag[1] == "inline":
			for k, v := range yamlFields(f.Type) {
				fields[k] = v
			}
		case tag[0] != "" && tag[0] != "-":
			fields[tag[0]] = f.Type
		}
	}
	return fields
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.AliasNode:
		w.errs.add(orRoot(path), "YAML aliases are not supported")
	case yaml.MappingNode:
		// A key given twice is an error (the YAML decoder would say so
		// too, but for every pair: quadratic in time and in lines).
		first := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, ok := first[k.Value]; ok {
				w.dup = true
				if len(w.errs) < maxConfigErrors {
					w.errs.add(join(path, k.Value), "given again on line %d (first on line %d)", k.Line, line)
				}
				continue
			}
			first[k.Value] = k.Line
		}
		switch {
		case t == sourceConfigType:
			w.source(n, path)
		case t.Kind() == reflect.Struct:
			w.mapping(n, path, yamlFields(t), nil, nil)
		}
		// Otherwise the decoder reports the type mismatch.
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, e := range n.Content {
			w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.ScalarNode:
		w.scalar(n, t, path)
	}
}

// source walks a source's mapping: its type decides which keys it takes.
func (w *walker) source(n *yaml.Node, path string) {
	var typeNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			typeNode = n.Content[i+1]
		}
	}
	typ := w.registry.Sources[0].Name
	if typeNode != nil {
		w.walk(typeNode, reflect.TypeOf(""), join(path, "type"))
		if typeNode.Value != "" {
			typ = typeNode.Value
		}
	}
	st := w.registry.sourceType(typ)
	var foreign func(key string) (reflect.Type, string)
	if st != nil { // else the type is wrong, not the keys
		all := w.registry.sourceKeys(nil)
		foreign = func(key string) (reflect.Type, string) {
			if t, ok := all[key]; ok {
				return t, "only for type " + w.registry.typesWith(key)
			}
			return nil, ""
		}
	}
	w.mapping(n, path, w.registry.sourceKeys(st), foreign, typeNode)
}

// mapping walks the keys of a mapping into fields. A key none of them has
// is unknown, unless foreign knows it (another source type's key): then it
// may be given empty, and is otherwise refused with foreign's message.
// done is a value walked already.
func (w *walker) mapping(n *yaml.Node, path string, fields map[string]reflect.Type, foreign func(key string) (reflect.Type, string), done *yaml.Node) {
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		ft, ok := fields[k.Value]
		if !ok && foreign != nil {
			if t, msg := foreign(k.Value); t != nil {
				w.lines[k.Line] = p
				w.walk(v, t, p)
				if v.Kind != yaml.ScalarNode || (v.Value != "" && v.Tag != "!!null") {
					w.errs.add(p, "%s", msg)
				}
				continue
			}
		}
		if !ok {
			if len(w.errs) < maxConfigErrors {
				w.errs.add(p, "unknown key (known keys here: %s)", strings.Join(names, ", "))
			}
			continue
		}
		w.lines[k.Line] = p
		if v == done {
			continue
		}
		w.walk(v, ft, p)
	}
}

// scalar expands ${VAR} in a value.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	w.lines[n.Line] = orRoot(path)
	if strings.HasSuffix(path, ".client_secret") && n.Value != "" && !strings.Contains(n.Value, "${") {
		w.plain = append(w.plain, path)
	}
	if !strings.Contains(n.Value, "${") {
		return
	}
	var missing []string
	n.Value = envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
		if m == "$${" {
			return "${"
		}
		name := m[2 : len(m)-1]
		v, ok := w.lookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	for _, name := range missing {
		w.errs.add(orRoot(path), "environment variable %s is not set", name)
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
			w.errs.add(orRoot(path), "expands to %q, which YAML reads as no value; set the variable to a value", n.Value)
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
