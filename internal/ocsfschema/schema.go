// Package ocsfschema checks events against the Open Cybersecurity Schema
// Framework (OCSF) 1.1.0, read from the published schema files, which it
// embeds (ocsf-schema-1.1.0/, Apache-2.0, see its LICENSE and NOTICE).
//
// The schema files are resolved the way the OCSF schema server compiles
// them, not copied into rules by hand: a class or object's "extends" chain
// (class -> base_event, user -> _entity -> object), the "$include" of files
// in includes/ and profiles/ (an attribute a profile file brings is tagged
// with that profile), the attribute dictionary (type, is_array, enum,
// sibling), deep-merged under each class or object's own attribute entries,
// object types resolved to objects/*.json, and the dictionary's data types
// (base type, max_len, regex, range). As in the schema server, merging is a
// deep merge: an entry overrides the keys it names (requirement, caption,
// description...) and adds enum values; a null removes what it names
// ("profile": null makes a profile's attribute a plain attribute of the
// class). Every timestamp_t attribute has its datetime_t twin "<name>_dt",
// as the datetime profile defines.
//
// Profiles apply per event: an attribute that a profile brings is part of
// the event's class only when the event's metadata.profiles lists that
// profile, as in the schema server's validator; otherwise it is unknown
// (and, if the profile makes it required, not required).
package ocsfschema

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed all:ocsf-schema-1.1.0
var embedded embed.FS

// embeddedDir is the embedded schema tree's directory.
const embeddedDir = "ocsf-schema-1.1.0"

var loadEmbedded = sync.OnceValues(func() (*Schema, error) {
	sub, err := fs.Sub(embedded, embeddedDir)
	if err != nil {
		return nil, err
	}
	return LoadFS(sub)
})

// Schema is a resolved OCSF schema: its classes and objects with every
// attribute's definition complete. It is read-only once loaded and safe for
// concurrent use.
type Schema struct {
	version  string // from version.json; empty when the tree has none
	types    map[string]*dataType
	classes  map[int]*entity
	byName   map[string]*entity
	objects  map[string]*entity
	profiles map[string]bool
}

// Class describes one event class of the schema.
type Class struct {
	// UID is the class_uid: category_uid*1000 + the class's own uid, e.g.
	// 3002; Base Event is 0.
	UID int
	// Name is the class's name in the schema files, e.g. "authentication".
	Name string
	// Caption is the class's caption, the value of an event's class_name,
	// e.g. "Authentication".
	Caption string
	// CategoryUID is the class's category_uid, e.g. 3; 0 for Base Event.
	CategoryUID int
	// CategoryName is the category's caption, the value of an event's
	// category_name, e.g. "Identity & Access Management"; "Uncategorized"
	// for Base Event.
	CategoryName string
}

// entity is a resolved class or object: all of its attributes, after
// extends, includes and the dictionary.
type entity struct {
	kind     string // "class" or "object"
	name     string
	class    Class // classes only
	attrs    map[string]*attribute
	names    []string // the attributes' names, sorted
	freeForm bool     // an object that defines no attribute at all ("object"): anything goes
	// constraints: the attributes of which at least one, or exactly one,
	// must be present
	atLeastOne []string
	justOne    []string
}

// attribute is one attribute of a class or object, its definition
// complete.
type attribute struct {
	name        string
	typ         string // a data type (e.g. "string_t"); empty when object is set
	object      string // the object type, when the attribute holds an object
	isArray     bool
	enum        map[string]string // value -> caption; nil when not an enum
	sibling     string            // the caption attribute of an enum id
	requirement string            // "required", "recommended" or "optional"
	profile     string            // the profile that brings it; empty for a plain attribute
}

// dataType is one of the dictionary's types, e.g. timestamp_t: its base
// type (one of the primitive types) and the constraints it adds.
type dataType struct {
	name     string
	super    *dataType // the type it refines (timestamp_t -> long_t); nil for a primitive
	base     string    // boolean_t, integer_t, long_t, float_t, string_t or json_t
	maxLen   int       // 0 when none
	regex    *regexp.Regexp
	hasRange bool
	min, max float64
	values   []any // the only values allowed, when the type lists them
}

// primitives are the base types a value is checked against.
var primitives = map[string]bool{
	"boolean_t": true, "integer_t": true, "long_t": true,
	"float_t": true, "string_t": true, "json_t": true,
}

// Load returns the embedded OCSF 1.1.0 schema. It is loaded once; every
// call returns the same Schema.
func Load() (*Schema, error) {
	return loadEmbedded()
}

// LoadFS resolves a schema tree laid out as the OCSF schema repository is:
// dictionary.json, categories.json, version.json (optional), events/**.json,
// objects/*.json, profiles/*.json and the includes/ its files $include.
// Extensions are not read.
func LoadFS(fsys fs.FS) (*Schema, error) {
	l := &loader{fsys: fsys, included: map[string]map[string]any{}, observables: map[int64]string{}}
	s, err := l.load()
	if err != nil {
		return nil, fmt.Errorf("ocsf schema: %w", err)
	}
	return s, nil
}

// Class returns the class whose class_uid is uid.
func (s *Schema) Class(uid int) (Class, bool) {
	e, ok := s.classes[uid]
	if !ok {
		return Class{}, false
	}
	return e.class, true
}

// ClassByName returns the class of that name in the schema files, e.g.
// "authentication", "api_activity" or "base_event".
func (s *Schema) ClassByName(name string) (Class, bool) {
	e, ok := s.byName[name]
	if !ok {
		return Class{}, false
	}
	return e.class, true
}

// loader reads and resolves a schema tree.
type loader struct {
	fsys     fs.FS
	included map[string]map[string]any // $included files, resolved and tagged, by path
	dict     map[string]any            // the dictionary's attributes
	// observables: the observable type_ids that attributes define (an
	// "observable" in an attribute's entry or its dictionary entry), with
	// the attribute's caption
	observables map[int64]string
}

func (l *loader) load() (*Schema, error) {
	s := &Schema{
		classes:  map[int]*entity{},
		byName:   map[string]*entity{},
		objects:  map[string]*entity{},
		profiles: map[string]bool{},
	}

	if v, err := l.readJSON("version.json"); err == nil {
		s.version, _ = v["version"].(string)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	dictionary, err := l.readJSON("dictionary.json")
	if err != nil {
		return nil, err
	}
	l.dict = mapOf(dictionary["attributes"])
	if s.types, err = readTypes(mapOf(mapOf(dictionary["types"])["attributes"])); err != nil {
		return nil, err
	}

	categories, err := l.readJSON("categories.json")
	if err != nil {
		return nil, err
	}

	profileFiles, err := fs.Glob(l.fsys, "profiles/*.json")
	if err != nil {
		return nil, err
	}
	for _, p := range profileFiles {
		data, err := l.readJSON(p)
		if err != nil {
			return nil, err
		}
		if name, _ := data["name"].(string); name != "" {
			s.profiles[name] = true
		}
	}

	rawObjects, err := l.readDefinitions("objects")
	if err != nil {
		return nil, err
	}
	rawClasses, err := l.readDefinitions("events")
	if err != nil {
		return nil, err
	}

	objects := newResolver(rawObjects)
	for _, name := range sortedKeys(rawObjects) {
		if strings.HasPrefix(name, "_") {
			continue // a base that objects extend, not an object of its own
		}
		raw, err := objects.resolve(name)
		if err != nil {
			return nil, err
		}
		e, err := l.entity("object", name, raw)
		if err != nil {
			return nil, err
		}
		s.objects[name] = e
	}

	classes := newResolver(rawClasses)
	for _, name := range sortedKeys(rawClasses) {
		own := rawClasses[name]
		if _, concrete := own["uid"]; !concrete && name != "base_event" {
			continue // an intermediate class (iam, application...): not a class of its own
		}
		raw, err := classes.resolve(name)
		if err != nil {
			return nil, err
		}
		e, err := l.entity("class", name, raw)
		if err != nil {
			return nil, err
		}
		if e.class, err = classOf(name, raw, e, mapOf(categories["attributes"])); err != nil {
			return nil, err
		}
		// class_uid and category_uid are checked against the class itself;
		// the enums the classification include gives them (0 only) are for
		// Base Event.
		for _, id := range []string{"class_uid", "category_uid"} {
			if a := e.attrs[id]; a != nil {
				a.enum = nil
			}
		}
		if other, dup := s.classes[e.class.UID]; dup {
			return nil, fmt.Errorf("classes %s and %s share class_uid %d", other.name, name, e.class.UID)
		}
		s.classes[e.class.UID] = e
		s.byName[name] = e
	}

	addObservableTypes(s, mapOf(mapOf(dictionary["types"])["attributes"]), rawObjects, l.observables)

	// Every object and data type an attribute names must exist.
	for _, e := range append(slices.Collect(maps.Values(s.classes)), slices.Collect(maps.Values(s.objects))...) {
		for _, a := range e.attrs {
			if a.object != "" && s.objects[a.object] == nil {
				return nil, fmt.Errorf("%s %s: attribute %s: no object %q", e.kind, e.name, a.name, a.object)
			}
			if a.typ != "" && s.types[a.typ] == nil {
				return nil, fmt.Errorf("%s %s: attribute %s: no data type %q", e.kind, e.name, a.name, a.typ)
			}
		}
	}
	return s, nil
}

// readDefinitions reads every class or object file under dir, its
// $includes resolved, by name.
func (l *loader) readDefinitions(dir string) (map[string]map[string]any, error) {
	defs := map[string]map[string]any{}
	err := fs.WalkDir(l.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		data, err := l.readJSON(p)
		if err != nil {
			return err
		}
		if err := l.resolveIncludes(p, data, 0); err != nil {
			return err
		}
		name, _ := data["name"].(string)
		if name == "" {
			return fmt.Errorf("%s: no name", p)
		}
		if _, dup := defs[name]; dup {
			return fmt.Errorf("%s: a second definition of %q", p, name)
		}
		defs[name] = data
		return nil
	})
	return defs, err
}

// resolveIncludes merges into data's attributes the attributes of the files
// its "$include" names: data's own entries win over an included file's, and
// an earlier file's over a later one's. An included profile's attributes
// are tagged with the profile's name.
func (l *loader) resolveIncludes(file string, data map[string]any, depth int) error {
	attrs := mapOf(data["attributes"])
	if attrs == nil {
		return nil
	}
	for name, a := range attrs {
		if name == "$include" {
			continue
		}
		if _, ok := mapOf(a)["$include"]; ok {
			return fmt.Errorf("%s: attribute %s: an $include inside an attribute is not supported", file, name)
		}
	}
	inc, ok := attrs["$include"]
	if !ok {
		return nil
	}
	if depth > 8 {
		return fmt.Errorf("%s: $include nested too deep", file)
	}
	var files []string
	switch v := inc.(type) {
	case string:
		files = []string{v}
	case []any:
		for _, f := range v {
			s, ok := f.(string)
			if !ok {
				return fmt.Errorf("%s: $include: %v is not a file name", file, f)
			}
			files = append(files, s)
		}
	default:
		return fmt.Errorf("%s: $include: %v is not a file name or a list of them", file, inc)
	}
	own := maps.Clone(attrs)
	delete(own, "$include")
	for _, f := range files {
		included, err := l.include(f, depth+1)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		own = deepMerge(mapOf(included["attributes"]), own)
	}
	data["attributes"] = own
	return nil
}

// include reads a file that a class or object $includes.
func (l *loader) include(file string, depth int) (map[string]any, error) {
	if data, ok := l.included[file]; ok {
		return data, nil
	}
	data, err := l.readJSON(path.Clean(file))
	if err != nil {
		return nil, err
	}
	if err := l.resolveIncludes(file, data, depth); err != nil {
		return nil, err
	}
	if meta, _ := data["meta"].(string); meta == "profile" {
		profile, _ := data["name"].(string)
		if profile == "" {
			return nil, fmt.Errorf("%s: a profile without a name", file)
		}
		attrs := mapOf(data["attributes"])
		for name, a := range attrs {
			tagged := maps.Clone(mapOf(a))
			if tagged == nil {
				return nil, fmt.Errorf("%s: attribute %s: not an object", file, name)
			}
			tagged["profile"] = profile
			attrs[name] = tagged
		}
	}
	l.included[file] = data
	return data, nil
}

// resolver resolves the "extends" chains of classes or of objects.
type resolver struct {
	raw      map[string]map[string]any
	resolved map[string]map[string]any
	active   map[string]bool // on the chain being resolved, to catch a loop
}

func newResolver(raw map[string]map[string]any) *resolver {
	return &resolver{raw: raw, resolved: map[string]map[string]any{}, active: map[string]bool{}}
}

// resolve returns the definition of name with what it extends merged in:
// its own top-level keys win (constraints, category, uid...), profiles add
// up, and attributes are deep-merged, its own entries over its parent's.
func (r *resolver) resolve(name string) (map[string]any, error) {
	if def, ok := r.resolved[name]; ok {
		return def, nil
	}
	own, ok := r.raw[name]
	if !ok {
		return nil, fmt.Errorf("no definition of %q", name)
	}
	parentName, _ := own["extends"].(string)
	if parentName == "" {
		r.resolved[name] = own
		return own, nil
	}
	if r.active[name] {
		return nil, fmt.Errorf("%q extends itself", name)
	}
	r.active[name] = true
	defer delete(r.active, name)
	parent, err := r.resolve(parentName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	def := maps.Clone(parent)
	maps.Copy(def, own)
	def["attributes"] = deepMerge(mapOf(parent["attributes"]), mapOf(own["attributes"]))
	var profiles []any
	for _, p := range append(listOf(parent["profiles"]), listOf(own["profiles"])...) {
		if !slices.Contains(profiles, p) {
			profiles = append(profiles, p)
		}
	}
	def["profiles"] = profiles
	r.resolved[name] = def
	return def, nil
}

// entity builds a class or object from its resolved definition: each
// attribute's dictionary entry with its own entry merged over it.
func (l *loader) entity(kind, name string, def map[string]any) (*entity, error) {
	e := &entity{kind: kind, name: name, attrs: map[string]*attribute{}}
	own := mapOf(def["attributes"])
	e.freeForm = len(own) == 0
	for attrName, v := range own {
		entry := mapOf(v)
		if entry == nil {
			return nil, fmt.Errorf("%s %s: attribute %s: not an object", kind, name, attrName)
		}
		full := deepMerge(mapOf(l.dict[attrName]), entry)
		a, err := l.attribute(attrName, full)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, name, err)
		}
		e.attrs[attrName] = a
	}
	// The datetime profile: every timestamp its datetime_t twin.
	for attrName, a := range e.attrs {
		twin := attrName + "_dt"
		if a.typ == "timestamp_t" && e.attrs[twin] == nil {
			e.attrs[twin] = &attribute{
				name: twin, typ: "datetime_t", isArray: a.isArray,
				requirement: "optional", profile: "datetime",
			}
		}
	}
	e.names = sortedKeys(e.attrs)

	for kindOf, list := range mapOf(def["constraints"]) {
		var names []string
		for _, n := range listOf(list) {
			s, ok := n.(string)
			if !ok {
				return nil, fmt.Errorf("%s %s: constraint %s: %v is not an attribute name", kind, name, kindOf, n)
			}
			names = append(names, s)
		}
		switch kindOf {
		case "at_least_one":
			e.atLeastOne = names
		case "just_one":
			e.justOne = names
		default:
			return nil, fmt.Errorf("%s %s: unknown constraint %q", kind, name, kindOf)
		}
	}
	return e, nil
}

// attribute reads one attribute's complete definition.
func (l *loader) attribute(name string, def map[string]any) (*attribute, error) {
	a := &attribute{name: name, requirement: "optional"}
	if r, ok := def["requirement"].(string); ok {
		a.requirement = r
	}
	a.isArray, _ = def["is_array"].(bool)
	a.sibling, _ = def["sibling"].(string)
	a.profile, _ = def["profile"].(string)
	typ, _ := def["type"].(string)
	if ot, _ := def["object_type"].(string); ot != "" {
		a.object = ot // the compiled form of an object attribute
	} else if strings.HasSuffix(typ, "_t") {
		a.typ = typ
	} else if typ != "" {
		a.object = typ
	}
	if a.typ == "" && a.object == "" {
		return nil, fmt.Errorf("attribute %s: no type (not in the dictionary?)", name)
	}
	if id, ok := jsonInt(def["observable"]); ok {
		l.observables[id], _ = def["caption"].(string)
	}
	if enum := mapOf(def["enum"]); enum != nil {
		a.enum = map[string]string{}
		for k, v := range enum {
			caption, _ := mapOf(v)["caption"].(string)
			a.enum[k] = caption
		}
	}
	return a, nil
}

// classOf works out a class's identity: class_uid = category_uid*1000 +
// the class's uid. A class whose category is not in categories.json (Base
// Event's "other") has category_uid 0, named by its category_uid enum.
func classOf(name string, def map[string]any, e *entity, categories map[string]any) (Class, error) {
	c := Class{Name: name}
	c.Caption, _ = def["caption"].(string)
	category, _ := def["category"].(string)
	if cat := mapOf(categories[category]); cat != nil {
		uid, ok := jsonInt(cat["uid"])
		if !ok {
			return c, fmt.Errorf("category %s: no uid", category)
		}
		c.CategoryUID = int(uid)
		c.CategoryName, _ = cat["caption"].(string)
	} else if name == "base_event" || category == "other" {
		if a := e.attrs["category_uid"]; a != nil {
			c.CategoryName = a.enum["0"]
		}
	} else {
		return c, fmt.Errorf("class %s: unknown category %q", name, category)
	}
	own := int64(0)
	if v, present := def["uid"]; present {
		var ok bool
		if own, ok = jsonInt(v); !ok {
			return c, fmt.Errorf("class %s: uid %v is not an integer", name, v)
		}
	}
	c.UID = c.CategoryUID*1000 + int(own)
	return c, nil
}

// addObservableTypes completes the enum of observable.type_id, as the
// schema server does: observable.json lists only 0 and 99, and the other
// values are the "observable" numbers the schema gives data types (ip_t is
// 2), objects (user is 21) and attributes.
func addObservableTypes(s *Schema, types map[string]any, objects map[string]map[string]any, attrs map[int64]string) {
	o := s.objects["observable"]
	if o == nil || o.attrs["type_id"] == nil || o.attrs["type_id"].enum == nil {
		return
	}
	enum := o.attrs["type_id"].enum
	add := func(id any, caption any) {
		n, ok := jsonInt(id)
		if !ok {
			return
		}
		key := strconv.FormatInt(n, 10)
		if _, taken := enum[key]; !taken {
			enum[key], _ = caption.(string)
		}
	}
	for _, name := range sortedKeys(types) {
		t := mapOf(types[name])
		add(t["observable"], t["caption"])
	}
	for _, name := range sortedKeys(objects) {
		add(objects[name]["observable"], objects[name]["caption"])
	}
	for id, caption := range attrs {
		add(float64(id), caption)
	}
}

// readTypes reads the dictionary's data types.
func readTypes(defs map[string]any) (map[string]*dataType, error) {
	types := map[string]*dataType{}
	var get func(name string, depth int) (*dataType, error)
	get = func(name string, depth int) (*dataType, error) {
		if t, ok := types[name]; ok {
			return t, nil
		}
		def := mapOf(defs[name])
		if def == nil {
			return nil, fmt.Errorf("dictionary: no type %q", name)
		}
		if depth > 8 {
			return nil, fmt.Errorf("dictionary: type %s: refines too deep", name)
		}
		t := &dataType{name: name, base: name}
		if superName, _ := def["type"].(string); superName != "" {
			super, err := get(superName, depth+1)
			if err != nil {
				return nil, err
			}
			t.super, t.base = super, super.base
		}
		if !primitives[t.base] {
			return nil, fmt.Errorf("dictionary: type %s: unknown base type %s", name, t.base)
		}
		if n, ok := jsonInt(def["max_len"]); ok {
			t.maxLen = int(n)
		}
		if re, _ := def["regex"].(string); re != "" {
			var err error
			if t.regex, err = regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("dictionary: type %s: regex: %w", name, err)
			}
		}
		if r := listOf(def["range"]); len(r) == 2 {
			lo, ok1 := r[0].(float64)
			hi, ok2 := r[1].(float64)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("dictionary: type %s: range %v", name, r)
			}
			t.hasRange, t.min, t.max = true, lo, hi
		}
		t.values = listOf(def["values"])
		types[name] = t
		return t, nil
	}
	for _, name := range sortedKeys(defs) {
		if _, err := get(name, 0); err != nil {
			return nil, err
		}
	}
	return types, nil
}

// readJSON reads one JSON file of the tree.
func (l *loader) readJSON(name string) (map[string]any, error) {
	b, err := fs.ReadFile(l.fsys, name)
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// deepMerge returns base with over merged into it: a key of over replaces
// base's, except that two objects are merged in turn, and a null removes
// the key. Neither argument is modified.
func deepMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	maps.Copy(out, base)
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		if bm, om := mapOf(out[k]), mapOf(v); bm != nil && om != nil {
			out[k] = deepMerge(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

// mapOf returns v as a JSON object, or nil.
func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// listOf returns v as a JSON array, or nil.
func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// jsonInt returns a number decoded from a schema file as an integer.
func jsonInt(v any) (int64, bool) {
	n, ok := v.(float64)
	if !ok || n != math.Trunc(n) {
		return 0, false
	}
	return int64(n), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DropAbsent removes null members and empty lists from an event read from
// Parquet (where a reader such as DuckDB shows null, or an empty list, for
// what JSON lines leave out), so that it compares with, and validates as,
// the event written as JSON. It changes event in place and returns it.
func DropAbsent(event map[string]any) map[string]any {
	dropAbsent(event)
	return event
}

func dropAbsent(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if l, ok := e.([]any); e == nil || ok && len(l) == 0 {
				delete(x, k)
			} else {
				dropAbsent(e)
			}
		}
	case []any:
		for _, e := range x {
			dropAbsent(e)
		}
	}
}
