package ocsf_test

import (
	"bytes"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/go-json-experiment/json"
)

// sameAsMarshal checks that an event's own JSON is the bytes json.Marshal
// writes for it.
func sameAsMarshal(t *testing.T, e *ocsf.Event) {
	t.Helper()
	want, werr := json.Marshal(e, json.Deterministic(true))
	got, gerr := e.AppendJSON([]byte("prefix"))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("json.Marshal error %v, AppendJSON error %v", werr, gerr)
	}
	if werr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendJSON wrote\n%s\njson.Marshal\n%s", got, want)
	}
}

// Every event of the corpus, and events with every optional object
// present but empty, are written as json.Marshal writes them.
func TestAppendJSONIsMarshal(t *testing.T) {
	for _, r := range corpus() {
		e, err := ocsf.Map(&r)
		if err != nil {
			t.Fatal(err)
		}
		sameAsMarshal(t, &e)
	}
	typeID := int32(0)
	for _, e := range []ocsf.Event{
		{},
		{Actor: &ocsf.Actor{}, SrcEndpoint: &ocsf.Endpoint{}, API: &ocsf.API{}, Table: &ocsf.Table{}, Resources: []ocsf.Resource{{}, {Name: "n"}}, TypeID: &typeID,
			Cloud: ocsf.Cloud{Account: &ocsf.Account{}, Org: &ocsf.Org{}}, User: &ocsf.User{}, Service: &ocsf.Service{}},
		{Actor: &ocsf.Actor{User: &ocsf.User{Name: "<a&b>\u2028"}}, API: &ocsf.API{Service: &ocsf.Service{}}, Resources: []ocsf.Resource{},
			Metadata: ocsf.Metadata{Profiles: []string{"cloud", "x\"y"}}},
		{Message: "bad \xff utf-8"},
		{Unmapped: ocsf.Unmapped{SAPIP: "\xfe"}},
	} {
		sameAsMarshal(t, &e)
	}
}
