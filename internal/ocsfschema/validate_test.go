package ocsfschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Minimal valid events, one per class the exporter writes (and Base
// Event): only what the schema requires, plus what a constraint asks for.
const (
	baseEvent = `{
		"class_uid": 0, "category_uid": 0, "activity_id": 99, "type_uid": 99,
		"severity_id": 1, "time": 1718000000000,
		"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}}
	}`

	accountChange = `{
		"class_uid": 3001, "category_uid": 3, "activity_id": 1, "type_uid": 300101,
		"severity_id": 1, "time": 1718000000000,
		"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}},
		"user": {"name": "JDOE"}
	}`

	authentication = `{
		"class_uid": 3002, "category_uid": 3, "activity_id": 1, "type_uid": 300201,
		"severity_id": 1, "time": 1718000000000,
		"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}},
		"user": {"name": "JDOE"},
		"service": {"name": "SAP BTP"}
	}`

	entityManagement = `{
		"class_uid": 3004, "category_uid": 3, "activity_id": 3, "type_uid": 300403,
		"severity_id": 1, "time": 1718000000000,
		"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}},
		"entity": {"name": "SAP_ALL", "type": "Role"}
	}`

	apiActivity = `{
		"class_uid": 6003, "category_uid": 6, "activity_id": 2, "type_uid": 600302,
		"severity_id": 1, "time": 1718000000000,
		"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}},
		"actor": {"user": {"name": "JDOE"}},
		"api": {"operation": "GET /sap/opu/odata/sap/API_BUSINESS_PARTNER"},
		"src_endpoint": {"ip": "10.0.0.7"}
	}`

	datastoreActivity = `{
		"class_uid": 6005, "category_uid": 6, "activity_id": 1, "type_uid": 600501,
		"severity_id": 1, "time": 1718000000000,
		"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}},
		"actor": {"user": {"name": "JDOE"}},
		"src_endpoint": {"hostname": "sapapp01"},
		"database": {"name": "HDB", "type_id": 1}
	}`

	// authenticationFull uses much of what the schema allows: profiles
	// (host for device, datetime for time_dt), enum siblings, arrays,
	// nested objects, observables, free-form unmapped data and a json_t.
	authenticationFull = `{
		"class_uid": 3002, "class_name": "Authentication",
		"category_uid": 3, "category_name": "Identity & Access Management",
		"activity_id": 1, "activity_name": "Logon",
		"type_uid": 300201, "type_name": "Authentication: Logon",
		"severity_id": 99, "severity": "Notice",
		"status_id": 2, "status": "Failure", "status_detail": "INVALID_CREDENTIALS",
		"time": 1718000000000, "time_dt": "2024-06-10T06:13:20.000Z", "timezone_offset": 120,
		"message": "Logon failed",
		"metadata": {
			"version": "1.1.0", "uid": "4e2a1f0c-8d7b-4c55-9d0e-2f1a3b4c5d6e",
			"profiles": ["host", "datetime"],
			"labels": ["sap", "security-audit-log"],
			"product": {"name": "SAP Audit Log", "vendor_name": "SAP", "version": "2024.1"},
			"logged_time": 1718000000123, "log_name": "security-audit-log"
		},
		"user": {"name": "JDOE", "uid": "P000123", "type_id": 1, "type": "User",
			"groups": [{"name": "ADMINS"}]},
		"actor": {"user": {"name": "JDOE"}},
		"device": {"type_id": 1, "type": "Server", "hostname": "sapapp01", "ip": "10.0.0.5"},
		"src_endpoint": {"ip": "2001:db8::7", "port": 443},
		"service": {"name": "SAP BTP", "uid": "sub-123"},
		"is_mfa": false,
		"logon_type_id": 3, "logon_type": "Network",
		"observables": [{"name": "user.name", "type_id": 4, "value": "JDOE"},
			{"name": "src_endpoint.ip", "type_id": 2, "value": "2001:db8::7"}],
		"enrichments": [{"name": "user.name", "value": "JDOE", "data": {"any": ["thing", 1, null]}}],
		"unmapped": {"sap": {"terminal": "T-01", "codes": [1, 2, 3]}}
	}`
)

// validEvents are the events that must pass.
var validEvents = map[string]string{
	"base_event":          baseEvent,
	"account_change":      accountChange,
	"authentication":      authentication,
	"entity_management":   entityManagement,
	"api_activity":        apiActivity,
	"datastore_activity":  datastoreActivity,
	"authentication_full": authenticationFull,
}

func mustLoad(t testing.TB) *Schema {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decode decodes an event as encoding/json does: numbers as float64.
func decode(t testing.TB, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return m
}

// decodeNumbers decodes an event with Decoder.UseNumber: numbers as
// json.Number.
func decodeNumbers(t testing.TB, doc string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return m
}

// problemPaths returns the path of every problem err holds.
func problemPaths(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v (%T) does not join problems", err, err)
	}
	var paths []string
	for _, e := range joined.Unwrap() {
		var p *problem
		if !errors.As(e, &p) {
			t.Fatalf("%v (%T) is not a problem", e, e)
		}
		paths = append(paths, p.path)
	}
	slices.Sort(paths)
	return paths
}

func TestValidEvents(t *testing.T) {
	s := mustLoad(t)
	for name, doc := range validEvents {
		t.Run(name, func(t *testing.T) {
			if err := s.Validate(decode(t, doc)); err != nil {
				t.Errorf("float64 numbers:\n%v", err)
			}
			if err := s.Validate(decodeNumbers(t, doc)); err != nil {
				t.Errorf("json.Number numbers:\n%v", err)
			}
		})
	}
}

// TestValidEventGoValues builds an event in Go, with Go integers, as a
// producer could before encoding it.
func TestValidEventGoValues(t *testing.T) {
	s := mustLoad(t)
	event := map[string]any{
		"class_uid": 3001, "category_uid": int32(3), "activity_id": int64(5), "type_uid": uint64(300105),
		"severity_id": uint8(1), "time": int64(1718000000000),
		"metadata": map[string]any{
			"version": "1.1.0",
			"product": map[string]any{"name": "SAP Audit Log", "vendor_name": "SAP"},
		},
		"user":     map[string]any{"name": "JDOE", "type_id": 1},
		"unmapped": map[string]any{"anything": []any{1, "two"}},
	}
	if err := s.Validate(event); err != nil {
		t.Error(err)
	}
}

// TestBrokenEvents breaks the valid events one way at a time and checks
// that exactly the expected problems are reported, by path.
func TestBrokenEvents(t *testing.T) {
	s := mustLoad(t)
	tests := []struct {
		name  string
		event string
		edit  func(e map[string]any)
		paths []string // every problem's path, sorted
		msg   string   // a part of the first problem's message
	}{
		// class, category, type
		{"class_uid missing", authentication, func(e map[string]any) { delete(e, "class_uid") },
			[]string{"class_uid"}, "required attribute missing"},
		{"class_uid unknown", authentication, func(e map[string]any) { e["class_uid"] = 3999.0 },
			[]string{"class_uid"}, "no class has class_uid 3999"},
		{"class_uid a string", authentication, func(e map[string]any) { e["class_uid"] = "3002" },
			[]string{"class_uid"}, "expected integer_t, got string"},
		{"wrong category_uid", authentication, func(e map[string]any) { e["category_uid"] = 6.0 },
			[]string{"category_uid"}, "6 is not the category of class 3002"},
		{"wrong category_uid, base event", baseEvent, func(e map[string]any) { e["category_uid"] = 3.0 },
			[]string{"category_uid"}, "3 is not the category of class 0"},
		{"wrong type_uid", authentication, func(e map[string]any) { e["type_uid"] = 300202.0 },
			[]string{"type_uid"}, "300202 is not class_uid*100 + activity_id = 300201"},
		{"type_uid of another class", apiActivity, func(e map[string]any) { e["type_uid"] = 600502.0 },
			[]string{"type_uid"}, "= 600302"},
		{"activity_id not in the class's enum", authentication, func(e map[string]any) { e["activity_id"], e["type_uid"] = 6.0, 300206.0 },
			[]string{"activity_id"}, "6 is not a value of the enum (0 Unknown, 1 Logon"},
		{"activity_id of another class", entityManagement, func(e map[string]any) { e["activity_id"], e["type_uid"] = 5.0, 300405.0 },
			[]string{"activity_id"}, "5 is not a value of the enum"},
		{"activity_id missing", datastoreActivity, func(e map[string]any) { delete(e, "activity_id") },
			[]string{"activity_id"}, "required attribute missing"},

		// required attributes, at any depth
		{"metadata missing", baseEvent, func(e map[string]any) { delete(e, "metadata") },
			[]string{"metadata"}, "required attribute missing"},
		{"metadata.product missing", authentication, func(e map[string]any) { delete(obj(e, "metadata"), "product") },
			[]string{"metadata.product"}, "required attribute missing"},
		{"metadata.product.vendor_name missing", apiActivity, func(e map[string]any) { delete(obj(e, "metadata", "product"), "vendor_name") },
			[]string{"metadata.product.vendor_name"}, "required attribute missing"},
		{"metadata.version missing", datastoreActivity, func(e map[string]any) { delete(obj(e, "metadata"), "version") },
			[]string{"metadata.version"}, "required attribute missing"},
		{"user missing (authentication)", authentication, func(e map[string]any) { delete(e, "user") },
			[]string{"user"}, "required attribute missing"},
		{"user null (account change)", accountChange, func(e map[string]any) { e["user"] = nil },
			[]string{"user"}, "required attribute missing"},
		{"entity missing", entityManagement, func(e map[string]any) { delete(e, "entity") },
			[]string{"entity"}, "required attribute missing"},
		{"api.operation missing", apiActivity, func(e map[string]any) { delete(obj(e, "api"), "operation") },
			[]string{"api.operation"}, "required attribute missing"},
		{"actor and src_endpoint missing", apiActivity, func(e map[string]any) { delete(e, "actor"); delete(e, "src_endpoint") },
			[]string{"actor", "src_endpoint"}, "required attribute missing"},
		{"database.type_id missing", datastoreActivity, func(e map[string]any) { delete(obj(e, "database"), "type_id") },
			[]string{"database.type_id"}, "required attribute missing"},
		{"time missing", accountChange, func(e map[string]any) { delete(e, "time") },
			[]string{"time"}, "required attribute missing"},
		{"severity_id missing", baseEvent, func(e map[string]any) { delete(e, "severity_id") },
			[]string{"severity_id"}, "required attribute missing"},
		{"observable type_id missing", authenticationFull, func(e map[string]any) { delete(obj(e, "observables[0]"), "type_id") },
			[]string{"observables[0].type_id"}, "required attribute missing"},
		{"device.type_id missing (host profile)", authenticationFull, func(e map[string]any) { delete(obj(e, "device"), "type_id") },
			[]string{"device.type_id"}, "required attribute missing"},

		// constraints
		{"user with none of account, name, uid", authentication, func(e map[string]any) { e["user"] = map[string]any{"type_id": 1.0} },
			[]string{"user"}, "at least one of account, name, uid must be present (constraint of object user)"},
		{"actor.user empty", apiActivity, func(e map[string]any) { obj(e, "actor")["user"] = map[string]any{} },
			[]string{"actor.user"}, "at least one of account, name, uid"},
		{"actor empty", datastoreActivity, func(e map[string]any) { e["actor"] = map[string]any{} },
			[]string{"actor"}, "at least one of process, user, invoked_by, session"},
		{"src_endpoint with no identity", apiActivity, func(e map[string]any) { e["src_endpoint"] = map[string]any{"port": 443.0} },
			[]string{"src_endpoint"}, "at least one of ip, uid, name, hostname"},
		{"authentication with neither service nor dst_endpoint", authentication, func(e map[string]any) { delete(e, "service") },
			[]string{"$"}, "at least one of service, dst_endpoint must be present (constraint of class authentication)"},
		{"datastore activity with no datastore", datastoreActivity, func(e map[string]any) { delete(e, "database") },
			[]string{"$"}, "at least one of database, databucket, table"},
		{"product with neither name nor uid", baseEvent, func(e map[string]any) { delete(obj(e, "metadata", "product"), "name") },
			[]string{"metadata.product"}, "at least one of name, uid must be present (constraint of object product)"},
		{"entity with neither name nor uid", entityManagement, func(e map[string]any) { delete(obj(e, "entity"), "name") },
			[]string{"entity"}, "at least one of name, uid"},
		{"authorize session with both privileges and group", `{
			"class_uid": 3003, "category_uid": 3, "activity_id": 1, "type_uid": 300301,
			"severity_id": 1, "time": 1718000000000,
			"metadata": {"version": "1.1.0", "product": {"name": "SAP Audit Log", "vendor_name": "SAP"}},
			"user": {"name": "JDOE"}, "privileges": ["S_ADMI_FCD"], "group": {"name": "ADMINS"}
		}`, nil,
			[]string{"$"}, "exactly one of privileges, group must be present (constraint of class authorize_session)"},

		// unknown attributes
		{"unknown attribute", authentication, func(e map[string]any) { e["sap_client"] = "100" },
			[]string{"sap_client"}, "unknown attribute: class authentication does not define it"},
		{"unknown nested attribute", apiActivity, func(e map[string]any) { obj(e, "actor", "user")["client"] = "100" },
			[]string{"actor.user.client"}, "unknown attribute: object user does not define it"},
		{"another class's attribute", accountChange, func(e map[string]any) { e["logon_type_id"] = 3.0 },
			[]string{"logon_type_id"}, "class account_change does not define it"},
		{"profile attribute without the profile", authentication, func(e map[string]any) {
			e["device"] = map[string]any{"type_id": 1.0, "hostname": "sapapp01"}
		}, []string{"device"}, `the host profile defines it, and metadata.profiles does not list "host"`},
		{"datetime twin without the profile", accountChange, func(e map[string]any) { e["time_dt"] = "2024-06-10T06:13:20Z" },
			[]string{"time_dt"}, `metadata.profiles does not list "datetime"`},
		{"entity management actor needs the host profile", entityManagement, func(e map[string]any) {
			e["actor"] = map[string]any{"user": map[string]any{"name": "JDOE"}}
		}, []string{"actor"}, "the host profile defines it"},
		{"unknown profile", authentication, func(e map[string]any) { obj(e, "metadata")["profiles"] = []any{"host", "sap"} },
			[]string{"metadata.profiles[1]"}, `no profile is named "sap"`},
		{"cloud profile listed, cloud missing", authentication, func(e map[string]any) { obj(e, "metadata")["profiles"] = []any{"cloud"} },
			[]string{"cloud"}, "required attribute missing"},

		// types
		{"string where an integer belongs", authentication, func(e map[string]any) { e["severity_id"] = "1" },
			[]string{"severity_id"}, "expected integer_t, got string"},
		{"fraction where an integer belongs", authentication, func(e map[string]any) { e["severity_id"] = 1.5 },
			[]string{"severity_id"}, "expected integer_t, got number 1.5 (not an integer)"},
		{"integer where a string belongs", authentication, func(e map[string]any) { obj(e, "user")["name"] = 42.0 },
			[]string{"user.name"}, "expected username_t (string_t), got integer"},
		{"timestamp as a string", accountChange, func(e map[string]any) { e["time"] = "2024-06-10T06:13:20Z" },
			[]string{"time"}, "expected timestamp_t (long_t), got string"},
		{"timestamp in fractional seconds", accountChange, func(e map[string]any) { e["time"] = 1718000000.5 },
			[]string{"time"}, "expected timestamp_t (long_t), got number"},
		{"nested timestamp as a string", authenticationFull, func(e map[string]any) { obj(e, "metadata")["logged_time"] = "yesterday" },
			[]string{"metadata.logged_time"}, "expected timestamp_t (long_t), got string"},
		{"boolean as a string", authenticationFull, func(e map[string]any) { e["is_mfa"] = "false" },
			[]string{"is_mfa"}, "expected boolean_t, got string"},
		{"string where an array belongs", authenticationFull, func(e map[string]any) { obj(e, "metadata")["labels"] = "sap" },
			[]string{"metadata.labels"}, "expected an array of string_t, got string"},
		{"object where an array of objects belongs", authenticationFull, func(e map[string]any) {
			e["observables"] = map[string]any{"name": "user.name", "type_id": 4.0}
		}, []string{"observables"}, "expected an array of object observable, got object"},
		{"array where an object belongs", authentication, func(e map[string]any) { e["user"] = []any{map[string]any{"name": "JDOE"}} },
			[]string{"user"}, "expected object user, got array"},
		{"string where an object belongs", apiActivity, func(e map[string]any) { obj(e, "actor")["user"] = "JDOE" },
			[]string{"actor.user"}, "expected object user, got string"},
		{"wrong array element", authenticationFull, func(e map[string]any) { obj(e, "metadata")["labels"] = []any{"sap", 7.0} },
			[]string{"metadata.labels[1]"}, "expected string_t, got integer"},
		{"enum sibling not a string", authenticationFull, func(e map[string]any) { e["activity_name"] = 1.0 },
			[]string{"activity_name"}, "expected string_t, got integer"},
		{"nested enum sibling not a string", authenticationFull, func(e map[string]any) { obj(e, "user")["type"] = 1.0 },
			[]string{"user.type"}, "expected string_t, got integer"},
		{"ip_t not an address", apiActivity, func(e map[string]any) { obj(e, "src_endpoint")["ip"] = "sapapp01" },
			[]string{"src_endpoint.ip"}, `"sapapp01" is not a valid ip_t`},
		{"port_t out of range", authenticationFull, func(e map[string]any) { obj(e, "src_endpoint")["port"] = 70000.0 },
			[]string{"src_endpoint.port"}, "70000 is outside port_t's range 0 to 65535"},
		{"datetime_t not RFC 3339", authenticationFull, func(e map[string]any) { e["time_dt"] = "10.06.2024 06:13" },
			[]string{"time_dt"}, "is not a valid datetime_t"},
		{"string longer than string_t allows", baseEvent, func(e map[string]any) { e["message"] = strings.Repeat("x", 65536) },
			[]string{"message"}, "longer than string_t's 65535 characters"},

		// enums
		{"severity_id out of range", authentication, func(e map[string]any) { e["severity_id"] = 7.0 },
			[]string{"severity_id"}, "7 is not a value of the enum (0 Unknown, 1 Informational"},
		{"nested enum out of range", authenticationFull, func(e map[string]any) { obj(e, "user")["type_id"] = 4.0 },
			[]string{"user.type_id"}, "4 is not a value of the enum (0 Unknown, 1 User, 2 Admin, 3 System, 99 Other)"},
		{"99 where the enum has no Other", authenticationFull, func(e map[string]any) { obj(e, "device")["risk_level_id"] = 99.0 },
			[]string{"device.risk_level_id"}, "99 is not a value of the enum (0 Info, 1 Low, 2 Medium, 3 High, 4 Critical)"},
		{"observable type_id unknown", authenticationFull, func(e map[string]any) { obj(e, "observables[1]")["type_id"] = 11.0 },
			[]string{"observables[1].type_id"}, "11 is not a value of the enum"},

		// metadata.version, observables
		{"metadata.version not 1.1.0", authentication, func(e map[string]any) { obj(e, "metadata")["version"] = "1.0.0" },
			[]string{"metadata.version"}, `"1.0.0" is not the schema's version "1.1.0"`},
		{"observable naming no attribute", authenticationFull, func(e map[string]any) { obj(e, "observables[0]")["name"] = "user.login" },
			[]string{"observables[0].name"}, `"user.login" is not the path of an attribute of class authentication`},

		// all problems at once
		{"every problem reported", authentication, func(e map[string]any) {
			e["type_uid"] = 1.0
			e["category_uid"] = 1.0
			e["time"] = "now"
			e["sap_client"] = "100"
			delete(obj(e, "metadata"), "product")
			obj(e, "user")["type_id"] = 42.0
		}, []string{"category_uid", "metadata.product", "sap_client", "time", "type_uid", "user.type_id"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, numbers := range []string{"float64", "json.Number"} {
				var event map[string]any
				if numbers == "float64" {
					event = decode(t, tt.event)
				} else {
					event = decodeNumbers(t, tt.event)
				}
				if tt.edit != nil {
					tt.edit(event)
				}
				err := s.Validate(event)
				if got := problemPaths(t, err); !slices.Equal(got, tt.paths) {
					t.Fatalf("%s: problems at %q, want %q:\n%v", numbers, got, tt.paths, err)
				}
				first := err.(interface{ Unwrap() []error }).Unwrap()[0].Error()
				if !strings.Contains(first, tt.msg) {
					t.Errorf("%s: %q does not say %q", numbers, first, tt.msg)
				}
			}
		})
	}
}

// TestUnmappedHoldsAnything checks that free-form places take any shape:
// unmapped (an "object" object) and json_t values.
func TestUnmappedHoldsAnything(t *testing.T) {
	s := mustLoad(t)
	e := decode(t, authentication)
	e["unmapped"] = map[string]any{"class_uid": "x", "user": []any{1.0, map[string]any{"deep": nil}}}
	e["enrichments"] = []any{map[string]any{"name": "user.name", "value": "JDOE", "data": []any{"json_t", 1.0}}}
	obj(e, "user")["ldap_person"] = map[string]any{"manager": map[string]any{"name": "BOSS"}}
	if err := s.Validate(e); err != nil {
		t.Error(err)
	}
}

// TestValidateMessages checks the text of a problem: path first.
func TestValidateMessages(t *testing.T) {
	s := mustLoad(t)
	e := decode(t, apiActivity)
	obj(e, "actor", "user")["name"] = 7.0
	err := s.Validate(e)
	want := "actor.user.name: expected username_t (string_t), got integer"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// obj returns the object at a path of keys in an event (a key may end in
// "[i]" for an array's element), for a test to edit.
func obj(e map[string]any, keys ...string) map[string]any {
	var cur any = e
	for _, k := range keys {
		name, index, isElement := strings.Cut(strings.TrimSuffix(k, "]"), "[")
		cur = cur.(map[string]any)[name]
		if isElement {
			i := 0
			for _, d := range index {
				i = i*10 + int(d-'0')
			}
			cur = cur.([]any)[i]
		}
	}
	return cur.(map[string]any)
}

// TestEncodedEventValidates checks that an event still validates after a
// round trip through encoding/json (which writes float64 1.0 as 1).
func TestEncodedEventValidates(t *testing.T) {
	s := mustLoad(t)
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(decode(t, authenticationFull)); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(decodeNumbers(t, buf.String())); err != nil {
		t.Error(err)
	}
}

// TestNumberForms checks which numbers count as integers: integral
// float64s (encoding/json's default), json.Numbers written as integers,
// and Go integers that fit 64 bits.
func TestNumberForms(t *testing.T) {
	s := mustLoad(t)
	tests := []struct {
		time any
		ok   bool
	}{
		{1718000000000.0, true},
		{json.Number("1718000000000"), true},
		{int64(1718000000000), true},
		{uint64(1718000000000), true},
		{1718000000000.5, false},
		{json.Number("1718000000000.0"), false}, // written as a float
		{json.Number("1.718e12"), false},
		{json.Number("99999999999999999999"), false}, // beyond 64 bits
		{uint64(1 << 63), false},
		{"1718000000000", false},
		{true, false},
	}
	for _, tt := range tests {
		e := decode(t, accountChange)
		e["time"] = tt.time
		err := s.Validate(e)
		if (err == nil) != tt.ok {
			t.Errorf("time %#v: %v, want ok=%v", tt.time, err, tt.ok)
		}
	}
}
