package ocsf

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/schema/sap"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Class is an OCSF event class this mapping writes.
type Class struct {
	UID          int32
	Name         string // "authentication"
	Caption      string // "Authentication"
	CategoryUID  int32
	CategoryName string
	// Activities are the captions of the activity ids used.
	Activities map[int32]string
}

// The classes SAP audit records map to.
var (
	Authentication = Class{UID: 3002, Name: "authentication", Caption: "Authentication", CategoryUID: 3, CategoryName: "Identity & Access Management",
		Activities: map[int32]string{0: "Unknown", 1: "Logon", 2: "Logoff", 99: "Other"}}
	APIActivity = Class{UID: 6003, Name: "api_activity", Caption: "API Activity", CategoryUID: 6, CategoryName: "Application Activity",
		Activities: map[int32]string{0: "Unknown", 1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}}
	DatastoreActivity = Class{UID: 6005, Name: "datastore_activity", Caption: "Datastore Activity", CategoryUID: 6, CategoryName: "Application Activity",
		Activities: map[int32]string{0: "Unknown", 1: "Read", 2: "Update", 6: "Create", 7: "Delete", 99: "Other"}}
)

// Classes lists every class Map may choose.
func Classes() []Class { return []Class{Authentication, APIActivity, DatastoreActivity} }

// Activity ids of the classes above.
const (
	activityUnknown = 0
	activityOther   = 99
	storeTypeTable  = 3
	authLogon       = 1
	authLogoff      = 2
	apiCreate       = 1
	apiUpdate       = 3
	apiDelete       = 4
	storeRead       = 1
	storeUpdate     = 2
	storeCreate     = 6
	storeDelete     = 7
)

// Status and severity ids (OCSF's base event).
const (
	statusUnknown = 0
	statusSuccess = 1
	statusFailure = 2

	severityInformational = 1
	severityMedium        = 3
)

var (
	statusNames   = map[int32]string{statusUnknown: "Unknown", statusSuccess: "Success", statusFailure: "Failure"}
	severityNames = map[int32]string{severityInformational: "Informational", severityMedium: "Medium"}
)

// The names SAP categories start with (sub-categories follow a dot:
// "audit.data-access.my-sub-category").
const (
	catSecurity     = "audit.security-events"
	catConfig       = "audit.configuration"
	catDataAccess   = "audit.data-access"
	catDataModified = "audit.data-modification"
)

// Provider is the cloud provider events name.
const Provider = "SAP BTP"

// ProductName is the product events name in metadata.product.
const ProductName = "SAP BTP Audit Log"

// Feature names of the two environments.
const (
	FeatureNeo = "Neo"
	FeatureCF  = "Cloud Foundry"
)

// unknown names what SAP left empty where OCSF requires a value (a user's
// name, uid or account; an endpoint; an entity's name or uid).
const unknown = "(unknown)"

// maxUnmappedBytes caps one value taken from a message into unmapped: the
// whole message is in raw_data anyway.
const maxUnmappedBytes = 8 << 10

// ClassOf returns the class r maps to.
func ClassOf(r *audit.Record) Class {
	switch {
	case isCategory(r.Category, catSecurity):
		return Authentication
	case isCategory(r.Category, catDataAccess), isCategory(r.Category, catDataModified):
		return DatastoreActivity
	}
	return APIActivity
}

func isCategory(c, base string) bool {
	return c == base || strings.HasPrefix(c, base+".")
}

// message is what this mapping reads from SAP's message when it is a JSON
// object. Every member is optional and of any type: a member of an
// unexpected type is ignored (it stays in raw_data).
type message struct {
	User        jsontext.Value `json:"user"`
	IP          jsontext.Value `json:"ip"`
	Data        jsontext.Value `json:"data"`
	Success     jsontext.Value `json:"success"`
	Object      jsontext.Value `json:"object"`
	DataSubject jsontext.Value `json:"data_subject"`
	Attributes  jsontext.Value `json:"attributes"`
	Channel     jsontext.Value `json:"channel"`
}

// object is SAP's {"type": ..., "id": {...}}.
type object struct {
	Type jsontext.Value `json:"type"`
	ID   jsontext.Value `json:"id"`
}

// attribute is one of SAP's changed or read attributes.
type attribute struct {
	Name       jsontext.Value `json:"name"`
	Old        jsontext.Value `json:"old"`
	New        jsontext.Value `json:"new"`
	Successful jsontext.Value `json:"successful"`
}

// parseMessage reads s as a JSON object; ok is false for a message that is
// not one (Neo's messages are text).
func parseMessage(s string) (m message, ok bool) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") {
		return m, false
	}
	if err := json.Unmarshal([]byte(t), &m); err != nil {
		return message{}, false
	}
	return m, true
}

// text returns v as a string when it is a JSON string.
func text(v jsontext.Value) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// boolean returns v as a bool when it is true or false.
func boolean(v jsontext.Value) (b, ok bool) {
	switch string(bytes.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// compact is v as compact JSON text, capped; "" for null or nothing.
func compact(v jsontext.Value) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	c := v.Clone()
	if c.Compact() != nil {
		return ""
	}
	return capText(string(c))
}

// MaxString is the longest string OCSF's string_t allows (in characters;
// a cut in bytes keeps to it).
const MaxString = 65535

// RawDataKey holds the SAP record in unmapped when it is too long for
// raw_data.
const RawDataKey = "sap.raw_data"

// cut cuts s to n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// limit cuts every string the event maps to string_t's length: the whole
// record is in raw_data (or unmapped) anyway.
func (e *Event) limit() {
	for _, p := range []*string{&e.Message, &e.Metadata.UID, &e.Metadata.LogName, &e.Metadata.LogVersion, &e.Metadata.TenantUID} {
		*p = cut(*p, MaxString)
	}
	if e.Cloud.Account != nil {
		e.Cloud.Account.UID = cut(e.Cloud.Account.UID, MaxString)
	}
	if e.Cloud.Org != nil {
		e.Cloud.Org.UID = cut(e.Cloud.Org.UID, MaxString)
	}
	for _, u := range []*User{e.User, actorUser(e.Actor)} {
		if u != nil {
			u.Name = cut(u.Name, MaxString)
		}
	}
	if e.SrcEndpoint != nil {
		e.SrcEndpoint.SvcName = cut(e.SrcEndpoint.SvcName, MaxString)
	}
	if e.Service != nil {
		e.Service.Name = cut(e.Service.Name, MaxString)
	}
	if e.API != nil {
		e.API.Operation = cut(e.API.Operation, MaxString)
		e.API.Service.Name = cut(e.API.Service.Name, MaxString)
	}
	for k, v := range e.Unmapped {
		if k != RawDataKey {
			e.Unmapped[k] = cut(v, maxUnmappedBytes)
		}
	}
}

func actorUser(a *Actor) *User {
	if a == nil {
		return nil
	}
	return a.User
}

// capText cuts s to maxUnmappedBytes on a rune boundary, marking the cut.
func capText(s string) string {
	if len(s) <= maxUnmappedBytes {
		return s
	}
	return cut(s, maxUnmappedBytes-len("…")) + "…"
}

// Map returns r as an OCSF event.
func Map(r *audit.Record) (Event, error) {
	raw, err := sap.AppendJSON(nil, r)
	if err != nil {
		return Event{}, err
	}
	cls := ClassOf(r)
	e := Event{
		ClassUID: cls.UID, ClassName: cls.Caption, CategoryUID: cls.CategoryUID, CategoryName: cls.CategoryName,
		Time:       r.Time.UnixMilli(),
		SeverityID: severityInformational,
		Metadata: Metadata{Version: Version, UID: r.UUID, Profiles: []string{"cloud"},
			Product: Product{Name: ProductName, VendorName: "SAP", Feature: Feature{Name: FeatureNeo}},
			LogName: r.Category, LogProvider: "SAP BTP Neo", LogVersion: r.FormatVersion, TenantUID: r.Tenant},
		Cloud:    Cloud{Provider: Provider},
		Unmapped: map[string]string{"sap.category": r.Category},
		RawData:  string(raw),
	}
	if len(raw) > MaxString {
		// Too long for string_t: the record goes whole into unmapped,
		// which OCSF leaves free-form.
		e.RawData, e.Unmapped[RawDataKey] = "", string(raw)
	}
	if r.Account != "" {
		e.Cloud.Account = &Account{UID: r.Account}
	}
	if r.InstanceID != nil {
		e.Unmapped["sap.instance_id"] = *r.InstanceID
	}
	svc := r.Application
	if r.CF != nil {
		e.Metadata.Product.Feature.Name, e.Metadata.LogProvider = FeatureCF, "SAP BTP Cloud Foundry"
		if r.CF.OrgID != "" {
			e.Cloud.Org = &Org{UID: r.CF.OrgID}
		}
		svc = r.CF.AppOrServiceID
		for k, v := range map[string]string{"cf.org_id": r.CF.OrgID, "cf.space_id": r.CF.SpaceID, "cf.app_or_service_id": r.CF.AppOrServiceID, "cf.als_service_id": r.CF.ALSServiceID} {
			if v != "" {
				e.Unmapped[k] = v
			}
		}
	} else if r.Application != "" {
		e.Unmapped["sap.application"] = r.Application
	}

	m, isJSON := parseMessage(r.Message)
	user := r.User
	if u, ok := text(m.User); ok && user == "" {
		user = u
	}
	if user == "" {
		user = unknown
	}
	var ip string
	if s, ok := text(m.IP); ok {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			ip = a.String()
		} else if s != "" {
			e.Unmapped["sap.ip"] = capText(s)
		}
	}
	if ip != "" {
		e.SrcEndpoint = &Endpoint{IP: ip}
	}
	// What the message says in words: Neo's text, or a JSON message's
	// "data" (security events).
	words := r.Message
	if isJSON {
		words, _ = text(m.Data)
		for k, v := range map[string]jsontext.Value{"sap.object": m.Object, "sap.data_subject": m.DataSubject, "sap.attributes": m.Attributes, "sap.channel": m.Channel} {
			if c := compact(v); c != "" {
				e.Unmapped[k] = c
			}
		}
	}
	e.Message = words
	attrs := attributesOf(m.Attributes)
	e.StatusID = statusOf(m, attrs, words)

	app := svc
	if svc == "" {
		svc = Provider
	}
	switch cls.UID {
	case Authentication.UID:
		e.User = &User{Name: user}
		e.Service = &Service{Name: svc} // OCSF wants the service or the destination
		e.ActivityID = logonActivity(words)
		if e.StatusID == statusFailure {
			e.SeverityID = severityMedium
		}
	case DatastoreActivity.UID:
		// The object whose personal data was read or changed is the
		// table; the data subject is in unmapped.
		e.Actor = &Actor{User: &User{Name: user}}
		e.ActivityID = storeRead
		if isCategory(r.Category, catDataModified) {
			e.ActivityID = changeActivity(attrs, storeCreate, storeUpdate, storeDelete)
		}
		res := resourceOf(m)
		e.Table = &Table{Name: res.Name, UID: res.UID}
		if app != "" {
			// The application that read or changed the data.
			if e.SrcEndpoint == nil {
				e.SrcEndpoint = &Endpoint{}
			}
			e.SrcEndpoint.SvcName = app
		}
		table := int32(storeTypeTable)
		e.TypeID = &table
	default:
		e.Actor = &Actor{User: &User{Name: user}}
		e.Resources = []Resource{resourceOf(m)}
		op := r.Category
		if isCategory(r.Category, catConfig) {
			e.ActivityID = changeActivity(attrs, apiCreate, apiUpdate, apiDelete)
			op = "configuration " + strings.ToLower(cls.Activities[e.ActivityID])
		} else {
			e.ActivityID = activityOther // a category SAP does not document
		}
		if op == "" {
			op = unknown
		}
		e.API = &API{Operation: op, Service: &Service{Name: svc}}
	}
	if e.SrcEndpoint == nil && cls.UID != Authentication.UID {
		e.SrcEndpoint = &Endpoint{Name: unknown} // OCSF requires one
	}
	e.limit()
	e.ActivityName = cls.Activities[e.ActivityID]
	e.TypeUID = int64(cls.UID)*100 + int64(e.ActivityID)
	e.TypeName = cls.Caption + ": " + e.ActivityName
	e.Status = statusNames[e.StatusID]
	e.Severity = severityNames[e.SeverityID]
	return e, nil
}

// attributesOf reads SAP's attribute list; nil when it is not one.
func attributesOf(v jsontext.Value) []attribute {
	var as []attribute
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &as) != nil {
		return nil
	}
	return as
}

// statusOf: the message's "success", else its attributes' "successful"
// (data access), else words of failure in its text.
func statusOf(m message, attrs []attribute, words string) int32 {
	if ok, known := boolean(m.Success); known {
		if ok {
			return statusSuccess
		}
		return statusFailure
	}
	seen := false
	for _, a := range attrs {
		if ok, known := boolean(a.Successful); known {
			if !ok {
				return statusFailure
			}
			seen = true
		}
	}
	if seen {
		return statusSuccess
	}
	w := strings.ToLower(words)
	for _, f := range []string{"fail", "unsuccessful", "denied", "invalid credentials", "wrong password"} {
		if strings.Contains(w, f) {
			return statusFailure
		}
	}
	return statusUnknown
}

// logonActivity reads a security event's words: a logoff, a logon, or
// another security event.
func logonActivity(words string) int32 {
	w := strings.ToLower(words)
	for _, k := range []string{"logoff", "logout", "log off", "log out", "logged off", "logged out", "sign out", "signed out", "sign-out"} {
		if strings.Contains(w, k) {
			return authLogoff
		}
	}
	for _, k := range []string{"logon", "login", "log on", "log in", "logged on", "logged in", "sign in", "signed in", "sign-in", "authenticat"} {
		if strings.Contains(w, k) {
			return authLogon
		}
	}
	return activityOther
}

// changeActivity: every attribute only new is a creation, every one only
// old a deletion, anything else an update.
func changeActivity(attrs []attribute, create, update, del int32) int32 {
	if len(attrs) == 0 {
		return update
	}
	onlyNew, onlyOld := true, true
	for _, a := range attrs {
		hasOld, hasNew := compact(a.Old) != "", compact(a.New) != ""
		onlyNew = onlyNew && hasNew && !hasOld
		onlyOld = onlyOld && hasOld && !hasNew
	}
	switch {
	case onlyNew:
		return create
	case onlyOld:
		return del
	}
	return update
}

// resourceOf is the object SAP's message names: its type, and its id as
// JSON text (SAP's ids are objects of key and value) or as a string.
func resourceOf(m message) Resource {
	var o object
	if len(m.Object) > 0 && m.Object[0] == '{' && json.Unmarshal(m.Object, &o) == nil {
		typ, _ := text(o.Type)
		id := compact(o.ID)
		if s, ok := text(o.ID); ok {
			id = capText(s)
		}
		if id != "" || typ != "" {
			name := id
			if name == "" {
				name = typ
			}
			return Resource{Name: capText(name), UID: id, Type: capText(typ)}
		}
	}
	return Resource{Name: unknown}
}
