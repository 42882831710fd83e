package ocsf_test

import (
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/internal/ocsfschema"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/go-json-experiment/json"
)

// published is the OCSF 1.1.0 schema as published.
func published(t testing.TB) *ocsfschema.Schema {
	t.Helper()
	s, err := ocsfschema.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkEvent checks e against the published schema, and that the names it
// carries are the schema's.
func checkEvent(t testing.TB, e ocsf.Event) {
	t.Helper()
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	checkLine(t, b)
}

// checkLine checks one event as written.
func checkLine(t testing.TB, line []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	s := published(t)
	if err := s.Validate(m); err != nil {
		t.Fatalf("event does not validate against OCSF 1.1.0:\n%v\n%s", err, line)
	}
	uid, _ := m["class_uid"].(float64)
	c, _ := s.Class(int(uid))
	if m["class_name"] != c.Caption || m["category_name"] != c.CategoryName {
		t.Fatalf("class_name %q category_name %q; the schema says %q %q", m["class_name"], m["category_name"], c.Caption, c.CategoryName)
	}
}

// Every class the mapping declares is the published schema's, with its
// category and the activities it uses.
func TestClassesArePublished(t *testing.T) {
	s := published(t)
	for _, c := range ocsf.Classes() {
		p, ok := s.Class(int(c.UID))
		if !ok || p.Name != c.Name || p.Caption != c.Caption || p.CategoryUID != int(c.CategoryUID) || p.CategoryName != c.CategoryName {
			t.Errorf("class %+v; published %+v", c, p)
		}
	}
}
