package ocsfschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate checks an event against its class (found by class_uid) and
// returns nil, or the errors.Join of every problem found, each naming its
// JSON path, e.g. "actor.user.name: expected username_t (string_t), got
// integer". The event is as encoding/json decodes it into a map: numbers
// as float64, or json.Number with Decoder.UseNumber; Go integers are
// accepted too. An integer is a float64 with no fraction, a json.Number
// written as an integer ("1", not "1.0" or "1e0"), or a Go integer, within
// 64 bits; a float_t takes any number.
//
// It checks:
//   - class_uid is present and names a class; category_uid is that class's
//     category; type_uid is class_uid*100 + activity_id; metadata.version
//     is the schema's version; metadata.profiles names known profiles;
//   - every required attribute is present, in the event and in every
//     object it holds, at any depth; the "at_least_one" and "just_one"
//     constraints of the class and of each object hold;
//   - every attribute present is defined for its class or object (objects
//     that define no attribute, such as "unmapped", and json_t values hold
//     anything);
//   - each value has its attribute's type: arrays where is_array, objects
//     where the attribute holds an object, and the data type's base type
//     (string, integer, long, float, boolean) with its max_len, regex and
//     range; timestamps are integer epoch milliseconds;
//   - an enum attribute's value is one of its enum's values (integers for
//     integer enums); its caption sibling (activity_name, status,
//     severity...) is a string, as the sibling's own definition says;
//   - each observable's name is the path of an attribute of the class.
//
// It does not report what the schema server only warns about: missing
// recommended attributes, deprecated classes, objects or attributes, and a
// caption sibling whose text differs from its enum value's caption.
//
// A problem of the event as a whole (a class's constraint) has the path
// "$". A null value counts as absent. When class_uid is missing or names no
// class, that is the one problem reported: there is no class to check the
// rest against.
func (s *Schema) Validate(event map[string]any) error {
	v := &validation{s: s, profiles: map[string]bool{}}
	v.event(event)
	return errors.Join(v.problems...)
}

// problem is one thing wrong with an event: where, and what.
type problem struct {
	path string // the JSON path, e.g. "actor.user.name" or "observables[0].name"; "$" is the event itself
	msg  string
}

func (p *problem) Error() string {
	return p.path + ": " + p.msg
}

// validation is the state of one Validate call.
type validation struct {
	s        *Schema
	profiles map[string]bool // the profiles the event's metadata.profiles lists
	problems []error
}

func (v *validation) add(path, format string, args ...any) {
	if path == "" {
		path = "$"
	}
	v.problems = append(v.problems, &problem{path: path, msg: fmt.Sprintf(format, args...)})
}

func (v *validation) event(event map[string]any) {
	raw := event["class_uid"]
	if raw == nil {
		v.add("class_uid", "required attribute missing")
		return
	}
	uid, ok := asInt(raw)
	if !ok {
		v.add("class_uid", "expected integer_t, got %s", describe(raw))
		return
	}
	class := v.s.classes[int(uid)]
	if class == nil {
		v.add("class_uid", "no class has class_uid %d", uid)
		return
	}

	metadata := mapOf(event["metadata"])
	for i, p := range listOf(metadata["profiles"]) {
		name, ok := p.(string)
		if !ok {
			continue // the type check reports it
		}
		if !v.s.profiles[name] {
			v.add(fmt.Sprintf("metadata.profiles[%d]", i), "no profile is named %q", name)
		}
		v.profiles[name] = true
	}

	v.object("", event, class)

	if got, ok := asInt(event["category_uid"]); ok && got != int64(class.class.CategoryUID) {
		v.add("category_uid", "%d is not the category of class %d (%s), which is %d",
			got, class.class.UID, class.name, class.class.CategoryUID)
	}
	activity, ok1 := asInt(event["activity_id"])
	typeUID, ok2 := asInt(event["type_uid"])
	if ok1 && ok2 && typeUID != uid*100+activity {
		v.add("type_uid", "%d is not class_uid*100 + activity_id = %d", typeUID, uid*100+activity)
	}
	if version, ok := metadata["version"].(string); ok && v.s.version != "" && version != v.s.version {
		v.add("metadata.version", "%q is not the schema's version %q", version, v.s.version)
	}
	for i, o := range listOf(event["observables"]) {
		name, ok := mapOf(o)["name"].(string)
		if ok && !v.defines(class, name) {
			v.add(fmt.Sprintf("observables[%d].name", i), "%q is not the path of an attribute of class %s", name, class.name)
		}
	}
}

// object checks one JSON object against its class or object definition.
func (v *validation) object(path string, m map[string]any, e *entity) {
	if e.freeForm {
		return
	}
	for _, name := range e.names {
		a := e.attrs[name]
		if !v.applies(a) {
			continue
		}
		value := m[name]
		if value == nil {
			if a.requirement == "required" {
				v.add(join(path, name), "required attribute missing")
			}
			continue
		}
		v.value(join(path, name), value, a)
	}

	for _, name := range sortedKeys(m) {
		a := e.attrs[name]
		switch {
		case a == nil:
			v.add(join(path, name), "unknown attribute: %s %s does not define it", e.kind, e.name)
		case !v.applies(a):
			v.add(join(path, name), "unknown attribute: the %s profile defines it, and metadata.profiles does not list %q", a.profile, a.profile)
		}
	}

	if len(e.atLeastOne) > 0 && countPresent(m, e.atLeastOne) == 0 {
		v.add(path, "at least one of %s must be present (constraint of %s %s)", strings.Join(e.atLeastOne, ", "), e.kind, e.name)
	}
	if len(e.justOne) > 0 && countPresent(m, e.justOne) != 1 {
		v.add(path, "exactly one of %s must be present (constraint of %s %s)", strings.Join(e.justOne, ", "), e.kind, e.name)
	}
}

// applies reports whether an attribute is part of the event's schema: a
// plain attribute always is, a profile's only when the event lists that
// profile.
func (v *validation) applies(a *attribute) bool {
	return a.profile == "" || v.profiles[a.profile]
}

// value checks the value of one attribute.
func (v *validation) value(path string, value any, a *attribute) {
	if !a.isArray {
		v.single(path, value, a)
		return
	}
	list, ok := value.([]any)
	if !ok {
		v.add(path, "expected an array of %s, got %s", a.typeName(v.s), describe(value))
		return
	}
	for i, el := range list {
		v.single(fmt.Sprintf("%s[%d]", path, i), el, a)
	}
}

// single checks one value, or one element of an array.
func (v *validation) single(path string, value any, a *attribute) {
	if a.object != "" {
		m, ok := value.(map[string]any)
		if !ok {
			v.add(path, "expected object %s, got %s", a.object, describe(value))
			return
		}
		v.object(path, m, v.s.objects[a.object])
		return
	}
	t := v.s.types[a.typ]
	if t == nil {
		v.add(path, "the schema defines no type %q", a.typ)
		return
	}
	if !v.primitive(path, value, t) {
		return
	}
	if a.enum != nil {
		key, ok := enumKey(value)
		if _, defined := a.enum[key]; !ok || !defined {
			v.add(path, "%s is not a value of the enum (%s)", describeValue(value), enumValues(a.enum))
		}
	}
}

// primitive checks a value against a data type and the types it refines.
// It reports whether the value has the right base type.
func (v *validation) primitive(path string, value any, t *dataType) bool {
	ok := false
	switch t.base {
	case "json_t":
		return true
	case "boolean_t":
		_, ok = value.(bool)
	case "string_t":
		_, ok = value.(string)
	case "integer_t", "long_t":
		_, ok = asInt(value)
	case "float_t":
		_, ok = asFloat(value)
	}
	if !ok {
		v.add(path, "expected %s, got %s", t.describe(), describe(value))
		return false
	}
	for ; t != nil; t = t.super {
		switch s := value.(type) {
		case string:
			if t.maxLen > 0 && utf8.RuneCountInString(s) > t.maxLen {
				v.add(path, "longer than %s's %d characters", t.name, t.maxLen)
			}
			if t.regex != nil && !t.regex.MatchString(s) {
				v.add(path, "%q is not a valid %s", s, t.name)
			}
		}
		if f, isNumber := asFloat(value); isNumber && t.hasRange {
			if f < t.min || f > t.max {
				v.add(path, "%s is outside %s's range %v to %v", describeValue(value), t.name, t.min, t.max)
			}
		}
		if len(t.values) > 0 && !slices.Contains(t.values, value) {
			v.add(path, "%s is not one of %s's values %v", describeValue(value), t.name, t.values)
		}
	}
	return true
}

// defines reports whether a dotted attribute path ("actor.user.name")
// names an attribute of the class, through the objects it holds.
func (v *validation) defines(e *entity, path string) bool {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		a := e.attrs[part]
		if a == nil || !v.applies(a) {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if a.object == "" {
			return false
		}
		e = v.s.objects[a.object]
	}
	return false
}

// typeName names an attribute's type for a message.
func (a *attribute) typeName(s *Schema) string {
	if a.object != "" {
		return "object " + a.object
	}
	if t := s.types[a.typ]; t != nil {
		return t.describe()
	}
	return a.typ
}

// describe names a data type and its base type, e.g. "timestamp_t
// (long_t)".
func (t *dataType) describe() string {
	if t.base == t.name {
		return t.name
	}
	return t.name + " (" + t.base + ")"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func countPresent(m map[string]any, names []string) int {
	n := 0
	for _, name := range names {
		if m[name] != nil {
			n++
		}
	}
	return n
}

// asInt returns a value as an integer when it is an integral number that
// fits 64 bits: a float64 or float32 with no fraction, a json.Number
// written as an integer, or a Go integer.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n == math.Trunc(n) && n >= -(1<<63) && n < 1<<63 {
			return int64(n), true
		}
	case float32:
		return asInt(float64(n))
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), n <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	}
	return 0, false
}

// asFloat returns a value as a number, when it is one.
func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// enumKey returns a value as an enum's key: an integer's decimal form, or
// the string itself.
func enumKey(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	if i, ok := asInt(v); ok {
		return strconv.FormatInt(i, 10), true
	}
	return "", false
}

// enumValues lists an enum's values, integers in numeric order, e.g.
// "0 Unknown, 1 Logon, 99 Other".
func enumValues(enum map[string]string) string {
	keys := sortedKeys(enum)
	slices.SortStableFunc(keys, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA != nil || errB != nil {
			return strings.Compare(a, b)
		}
		return x - y
	})
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		if c := enum[k]; c != "" && c != k {
			b.WriteString(" " + c)
		}
	}
	return b.String()
}

// describe names the JSON type of a value, for a message.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if _, ok := asInt(v); ok {
		return "integer"
	}
	if _, ok := asFloat(v); ok {
		return fmt.Sprintf("number %v (not an integer)", v)
	}
	return fmt.Sprintf("%T", v)
}

// describeValue shows a value in a message.
func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
