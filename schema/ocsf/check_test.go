package ocsf_test

import (
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
)

// checkEvent checks what every event must hold whatever the record.
func checkEvent(t *testing.T, e ocsf.Event) {
	t.Helper()
	if e.TypeUID != int64(e.ClassUID)*100+int64(e.ActivityID) {
		t.Fatalf("type_uid %d for class %d activity %d", e.TypeUID, e.ClassUID, e.ActivityID)
	}
	known := false
	for _, c := range ocsf.Classes() {
		if c.UID == e.ClassUID {
			known = c.CategoryUID == e.CategoryUID && c.Activities[e.ActivityID] == e.ActivityName
		}
	}
	if !known {
		t.Fatalf("class %d category %d activity %d %q: not as the mapping declares", e.ClassUID, e.CategoryUID, e.ActivityID, e.ActivityName)
	}
	if e.ClassUID == 3002 && (e.User == nil || e.User.Name == "") {
		t.Fatalf("authentication without a user: %+v", e)
	}
	if e.ClassUID == 6005 && (e.Actor == nil || e.SrcEndpoint == nil || e.SrcEndpoint.IP+e.SrcEndpoint.Name+e.SrcEndpoint.SvcName == "") {
		t.Fatalf("datastore activity without actor or endpoint: %+v", e)
	}
	if e.ClassUID == 3004 && (e.Entity == nil || e.Entity.Name+e.Entity.UID == "") {
		t.Fatalf("entity management without an entity: %+v", e)
	}
}
