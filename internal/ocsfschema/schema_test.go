package ocsfschema

import (
	"io/fs"
	"os"
	"slices"
	"testing"
	"testing/fstest"
)

func TestLoadOnce(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("Load read the schema twice")
	}
	if a.version != "1.1.0" {
		t.Errorf("version %q, want 1.1.0", a.version)
	}
}

func TestClass(t *testing.T) {
	s := mustLoad(t)
	tests := []Class{
		{UID: 0, Name: "base_event", Caption: "Base Event", CategoryUID: 0, CategoryName: "Uncategorized"},
		{UID: 3001, Name: "account_change", Caption: "Account Change", CategoryUID: 3, CategoryName: "Identity & Access Management"},
		{UID: 3002, Name: "authentication", Caption: "Authentication", CategoryUID: 3, CategoryName: "Identity & Access Management"},
		{UID: 3004, Name: "entity_management", Caption: "Entity Management", CategoryUID: 3, CategoryName: "Identity & Access Management"},
		{UID: 6003, Name: "api_activity", Caption: "API Activity", CategoryUID: 6, CategoryName: "Application Activity"},
		{UID: 6005, Name: "datastore_activity", Caption: "Datastore Activity", CategoryUID: 6, CategoryName: "Application Activity"},
		{UID: 4001, Name: "network_activity", Caption: "Network Activity", CategoryUID: 4, CategoryName: "Network Activity"},
		{UID: 2004, Name: "detection_finding", Caption: "Detection Finding", CategoryUID: 2, CategoryName: "Findings"},
	}
	for _, want := range tests {
		got, ok := s.Class(want.UID)
		if !ok || got != want {
			t.Errorf("Class(%d) = %+v, %v; want %+v", want.UID, got, ok, want)
		}
		got, ok = s.ClassByName(want.Name)
		if !ok || got != want {
			t.Errorf("ClassByName(%q) = %+v, %v; want %+v", want.Name, got, ok, want)
		}
	}
	for _, uid := range []int{1, 3000, 3999, 6099} {
		if c, ok := s.Class(uid); ok {
			t.Errorf("Class(%d) = %+v, want none", uid, c)
		}
	}
	// Intermediate classes are not classes of their own.
	for _, name := range []string{"iam", "application", "network", "Authentication", ""} {
		if c, ok := s.ClassByName(name); ok {
			t.Errorf("ClassByName(%q) = %+v, want none", name, c)
		}
	}
	// Every class with a uid in events/, and Base Event.
	if len(s.classes) != 44 {
		t.Errorf("%d classes, want 44", len(s.classes))
	}
}

// TestResolution checks, on the real schema files, that definitions are
// resolved as the schema server resolves them.
func TestResolution(t *testing.T) {
	s := mustLoad(t)
	attr := func(kind, owner, name string) *attribute {
		t.Helper()
		var e *entity
		if kind == "class" {
			e = s.byName[owner]
		} else {
			e = s.objects[owner]
		}
		if e == nil || e.attrs[name] == nil {
			t.Fatalf("%s %s has no attribute %s", kind, owner, name)
		}
		return e.attrs[name]
	}

	// "profile": null in authentication.json makes the host profile's
	// actor a plain attribute; entity_management keeps it the profile's.
	if p := attr("class", "authentication", "actor").profile; p != "" {
		t.Errorf("authentication.actor: profile %q, want none", p)
	}
	if p := attr("class", "entity_management", "actor").profile; p != "host" {
		t.Errorf("entity_management.actor: profile %q, want host", p)
	}
	// includes/classification.json (through base_event -> iam):
	// required, with the dictionary's enum merged with the class's.
	a := attr("class", "authentication", "activity_id")
	if a.requirement != "required" || a.typ != "integer_t" || a.sibling != "activity_name" {
		t.Errorf("authentication.activity_id: %+v", a)
	}
	if got := enumValues(a.enum); got != "0 Unknown, 1 Logon, 2 Logoff, 3 Authentication Ticket, 4 Service Ticket Request, 5 Service Ticket Renew, 99 Other" {
		t.Errorf("authentication.activity_id enum: %s", got)
	}
	// An object's own type for an attribute wins over the dictionary's.
	if typ := attr("object", "user", "name").typ; typ != "username_t" {
		t.Errorf("user.name: type %s, want username_t", typ)
	}
	// user extends _entity; network_endpoint extends endpoint.
	if a := attr("object", "user", "uid"); a.typ != "string_t" {
		t.Errorf("user.uid: %+v", a)
	}
	if a := attr("object", "network_endpoint", "ip"); a.typ != "ip_t" {
		t.Errorf("network_endpoint.ip: %+v", a)
	}
	// Constraints are inherited: product declares none, _entity does.
	if got := s.objects["product"].atLeastOne; !slices.Equal(got, []string{"name", "uid"}) {
		t.Errorf("product at_least_one %q", got)
	}
	// A profile included by an object: endpoint's container.
	if p := attr("object", "endpoint", "container").profile; p != "container" {
		t.Errorf("endpoint.container: profile %q", p)
	}
	// A profile named in an object's own entry.
	if p := attr("object", "resource_details", "cloud_partition").profile; p != "cloud" {
		t.Errorf("resource_details.cloud_partition: profile %q", p)
	}
	// The datetime profile: every timestamp its _dt twin.
	if a := attr("object", "metadata", "logged_time_dt"); a.typ != "datetime_t" || a.profile != "datetime" {
		t.Errorf("metadata.logged_time_dt: %+v", a)
	}
	// Object attributes, arrays.
	if a := attr("class", "base_event", "observables"); a.object != "observable" || !a.isArray {
		t.Errorf("observables: %+v", a)
	}
	if a := attr("class", "base_event", "unmapped"); a.object != "object" || !s.objects["object"].freeForm {
		t.Errorf("unmapped: %+v", a)
	}
	// Data types.
	if ts := s.types["timestamp_t"]; ts.base != "long_t" || ts.super != s.types["long_t"] {
		t.Errorf("timestamp_t: %+v", ts)
	}
	if p := s.types["port_t"]; p.base != "integer_t" || !p.hasRange || p.min != 0 || p.max != 65535 {
		t.Errorf("port_t: %+v", p)
	}
}

// TestLoadFS loads the schema from a directory and checks it is the
// embedded one; and that a tree lacking a file is an error.
func TestLoadFS(t *testing.T) {
	s, err := LoadFS(os.DirFS(embeddedDir))
	if err != nil {
		t.Fatal(err)
	}
	e := mustLoad(t)
	if len(s.classes) != len(e.classes) || len(s.objects) != len(e.objects) || s.version != e.version {
		t.Errorf("LoadFS: %d classes, %d objects, version %s; Load: %d, %d, %s",
			len(s.classes), len(s.objects), s.version, len(e.classes), len(e.objects), e.version)
	}
	if err := s.Validate(decode(t, authenticationFull)); err != nil {
		t.Error(err)
	}

	for _, missing := range []string{"dictionary.json", "categories.json", "objects/product.json", "includes/classification.json"} {
		tree := fstest.MapFS{}
		err := fs.WalkDir(os.DirFS(embeddedDir), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || p == missing {
				return err
			}
			b, err := fs.ReadFile(os.DirFS(embeddedDir), p)
			tree[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadFS(tree); err == nil {
			t.Errorf("a tree without %s loaded", missing)
		} else {
			t.Logf("without %s: %v", missing, err)
		}
	}
}

// TestEmbeddedLicense checks that the schema's license travels with it.
func TestEmbeddedLicense(t *testing.T) {
	for _, name := range []string{"LICENSE", "NOTICE"} {
		b, err := fs.ReadFile(embedded, embeddedDir+"/"+name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
}
