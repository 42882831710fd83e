package ocsf_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
)

var at = time.Date(2026, 11, 24, 10, 0, 40, 572e6, time.UTC)

func neo(category, user, msg string) audit.Record {
	return audit.Record{UUID: "u-1", Time: at, Category: category, User: user, Tenant: "t1", Account: "acct", Application: "hr-portal", Message: msg, FormatVersion: "2.2"}
}

func cf(category, user, msg string) audit.Record {
	return audit.Record{UUID: "c-1", Time: at, Category: category, User: user, Tenant: "t1", Account: "sub", Message: msg,
		CF: &audit.CFFields{OrgID: "org-1", SpaceID: "space-1", AppOrServiceID: "app-1", ALSServiceID: "als-1"}}
}

// The mapping table of the README, one row at a time.
func TestMap(t *testing.T) {
	tests := []struct {
		name     string
		rec      audit.Record
		class    int32
		activity int32
		status   int32
		severity int32
		check    func(t *testing.T, e ocsf.Event)
	}{
		{"Neo logon", neo("audit.security-events", "P000123", "Security event message. User logon succeeded"), 3002, 1, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.User == nil || e.User.Name != "P000123" || e.SrcEndpoint != nil || e.Service == nil || e.Service.Name != "hr-portal" {
				t.Errorf("user %+v endpoint %+v service %+v", e.User, e.SrcEndpoint, e.Service)
			}
		}},
		{"Neo failed login", neo("audit.security-events", "P000123", "Security event message. Login failed for user P000123"), 3002, 1, 2, 3, nil},
		{"Neo logoff", neo("audit.security-events", "P000123", "Security event message. User logged out"), 3002, 2, 0, 1, nil},
		{"other security event", neo("audit.security-events", "P000123", `Security event message. Security event: "custom"`), 3002, 99, 0, 1, nil},
		{"CF security event with ip and success", cf("audit.security-events", "alice", `{"data":"user logon","ip":"2001:0db8::0001","success":false}`), 3002, 1, 2, 3, func(t *testing.T, e ocsf.Event) {
			if e.SrcEndpoint == nil || e.SrcEndpoint.IP != "2001:db8::1" || e.Message != "user logon" {
				t.Errorf("endpoint %+v message %q", e.SrcEndpoint, e.Message)
			}
		}},
		{"CF ip that is not one", cf("audit.security-events", "alice", `{"data":"x","ip":"10.0.0.300"}`), 3002, 99, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.SrcEndpoint != nil || e.Unmapped.SAPIP != "10.0.0.300" {
				t.Errorf("endpoint %+v unmapped %v", e.SrcEndpoint, e.Unmapped)
			}
		}},
		{"empty user", cf("audit.security-events", "", `{"data":"logon"}`), 3002, 1, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.User.Name != "(unknown)" {
				t.Errorf("user %+v", e.User)
			}
		}},
		{"user from the message", cf("audit.security-events", "", `{"data":"logon","user":"bob"}`), 3002, 1, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.User.Name != "bob" {
				t.Errorf("user %+v", e.User)
			}
		}},
		{"Neo configuration change", neo("audit.configuration", "S1", `Configuration change message. Attribute a update from value "1" to value "2".`), 6003, 3, 0, 1, func(t *testing.T, e ocsf.Event) {
			if len(e.Resources) != 1 || e.Resources[0].Name != "(unknown)" || e.Actor.User.Name != "S1" || e.API.Operation != "configuration update" || e.API.Service.Name != "hr-portal" || e.SrcEndpoint.Name != "(unknown)" {
				t.Errorf("resources %+v actor %+v api %+v endpoint %+v", e.Resources, e.Actor, e.API, e.SrcEndpoint)
			}
		}},
		{"CF configuration created", cf("audit.configuration", "alice", `{"object":{"type":"destination","id":{"name":"d1"}},"attributes":[{"name":"url","new":"https://x"}],"success":true,"ip":"10.1.2.3"}`), 6003, 1, 1, 1, func(t *testing.T, e ocsf.Event) {
			if e.Resources[0].Type != "destination" || e.Resources[0].UID != `{"name":"d1"}` || e.Unmapped.SAPAttributes != `[{"name":"url","new":"https://x"}]` || e.SrcEndpoint.IP != "10.1.2.3" || e.API.Service.Name != "app-1" {
				t.Errorf("resources %+v unmapped %v endpoint %+v api %+v", e.Resources, e.Unmapped, e.SrcEndpoint, e.API)
			}
		}},
		{"CF configuration deleted", cf("audit.configuration", "alice", `{"object":{"type":"t","id":"x"},"attributes":[{"name":"url","old":"https://x","new":null}]}`), 6003, 4, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.Resources[0].UID != "x" {
				t.Errorf("resources %+v", e.Resources)
			}
		}},
		{"CF configuration updated, failed", cf("audit.configuration", "alice", `{"object":{"type":"t","id":{"k":"v"}},"attributes":[{"name":"a","old":"1","new":"2"}],"success":false}`), 6003, 3, 2, 1, nil},
		{"Neo data access sub-category", neo("audit.data-access.my-sub-category", "S1", "Read data access message."), 6005, 1, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.Actor == nil || e.Actor.User.Name != "S1" || e.SrcEndpoint == nil || e.SrcEndpoint.SvcName != "hr-portal" || e.Table == nil || e.Table.Name != "(unknown)" || *e.TypeID != 3 {
				t.Errorf("actor %+v endpoint %+v table %+v", e.Actor, e.SrcEndpoint, e.Table)
			}
		}},
		{"CF data access, one attribute not read", cf("audit.data-access", "alice", `{"object":{"type":"employee","id":{"id":"4711"}},"data_subject":{"type":"person","role":"employee","id":{"id":"4711"}},"attributes":[{"name":"salary","successful":true},{"name":"iban","successful":false}],"channel":"web"}`), 6005, 1, 2, 1, func(t *testing.T, e ocsf.Event) {
			if e.Unmapped.SAPDataSubject == "" || e.Unmapped.SAPObject == "" || e.Unmapped.SAPChannel != `"web"` || e.Table.Name != `{"id":"4711"}` {
				t.Errorf("unmapped %v table %+v", e.Unmapped, e.Table)
			}
		}},
		{"data modification", cf("audit.data-modification", "alice", `{"attributes":[{"name":"a","old":"1","new":"2"}],"success":true}`), 6005, 2, 1, 1, nil},
		{"data created", cf("audit.data-modification.test", "alice", `{"attributes":[{"name":"a","new":"2"}]}`), 6005, 6, 0, 1, nil},
		{"no endpoint at all", audit.Record{UUID: "x", Time: at, Category: "audit.data-access", Account: "a", Message: "read"}, 6005, 1, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.SrcEndpoint == nil || e.SrcEndpoint.Name == "" {
				t.Errorf("endpoint %+v", e.SrcEndpoint)
			}
		}},
		{"undocumented category", neo("audit.something-new", "S1", "hello"), 6003, 99, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.API.Operation != "audit.something-new" {
				t.Errorf("api %+v", e.API)
			}
		}},
		{"JSON of an unexpected shape", cf("audit.configuration", "alice", `{"object":"not an object","attributes":{"a":1},"success":"yes","ip":7}`), 6003, 3, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.Resources[0].Name != "(unknown)" || e.Unmapped.SAPObject != `"not an object"` {
				t.Errorf("resources %+v unmapped %v", e.Resources, e.Unmapped)
			}
		}},
		{"a JSON array", cf("audit.configuration", "alice", `[1,2,3]`), 6003, 3, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.Message != "[1,2,3]" {
				t.Errorf("message %q", e.Message)
			}
		}},
		{"broken JSON", cf("audit.security-events", "alice", `{"data":"logon"`), 3002, 1, 0, 1, func(t *testing.T, e ocsf.Event) {
			if e.Message != `{"data":"logon"` {
				t.Errorf("message %q", e.Message)
			}
		}},
		{"huge attribute list is cut in unmapped", cf("audit.configuration", "alice", `{"attributes":[{"name":"`+strings.Repeat("ü", 20000)+`","old":"1","new":"2"}]}`), 6003, 3, 0, 1, func(t *testing.T, e ocsf.Event) {
			if n := len(e.Unmapped.SAPAttributes); n > 9000 || !strings.HasSuffix(e.Unmapped.SAPAttributes, "…") {
				t.Errorf("unmapped attributes %d bytes", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ocsf.Map(&tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if e.ClassUID != tt.class || e.ActivityID != tt.activity || e.StatusID != tt.status || e.SeverityID != tt.severity {
				t.Fatalf("class %d activity %d status %d severity %d; want %d %d %d %d", e.ClassUID, e.ActivityID, e.StatusID, e.SeverityID, tt.class, tt.activity, tt.status, tt.severity)
			}
			if e.TypeUID != int64(tt.class)*100+int64(tt.activity) || e.Metadata.UID != tt.rec.UUID || e.Time != tt.rec.Time.UnixMilli() || e.Metadata.Version != "1.1.0" {
				t.Fatalf("type_uid %d uid %q time %d version %q", e.TypeUID, e.Metadata.UID, e.Time, e.Metadata.Version)
			}
			wantFeature := "Neo"
			if tt.rec.CF != nil {
				wantFeature = "Cloud Foundry"
			}
			if e.Metadata.Product.Name != "SAP BTP Audit Log" || e.Metadata.Product.Feature.Name != wantFeature {
				t.Fatalf("product %+v", e.Metadata.Product)
			}
			back, err := ocsf.Record(&e)
			if err != nil || !reflect.DeepEqual(back, tt.rec) {
				t.Fatalf("read back %+v, %v; want %+v", back, err, tt.rec)
			}
			checkEvent(t, e)
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// raw_data must agree with the event: an edited uid or time is an error.
func TestRecordRefusesADisagreeingEvent(t *testing.T) {
	r := neo("audit.configuration", "S1", "x")
	for name, edit := range map[string]func(e *ocsf.Event){
		"uid":      func(e *ocsf.Event) { e.Metadata.UID = "other" },
		"time":     func(e *ocsf.Event) { e.Time++ },
		"raw_data": func(e *ocsf.Event) { e.RawData = `{"uuid":1}` },
	} {
		e, _ := ocsf.Map(&r)
		edit(&e)
		if _, err := ocsf.Record(&e); err == nil {
			t.Errorf("%s edited: no error", name)
		}
	}
}
