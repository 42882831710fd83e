package ocsf

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode/utf8"
	"unsafe"

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

// typeName is the OCSF type_name of an activity of c ("API Activity:
// Update").
func (c Class) typeName(activity int32) string {
	if n, ok := typeNames[c.UID][activity]; ok {
		return n
	}
	return c.Caption + ": " + c.Activities[activity]
}

// typeNames are every class's type names, made once.
var typeNames = func() map[int32]map[int32]string {
	out := map[int32]map[int32]string{}
	for _, c := range Classes() {
		out[c.UID] = map[int32]string{}
		for id, name := range c.Activities {
			out[c.UID][id] = c.Caption + ": " + name
		}
	}
	return out
}()

// configOps name a configuration change's operation by its activity.
var configOps = map[int32]string{apiCreate: "configuration create", apiUpdate: "configuration update", apiDelete: "configuration delete"}

// profiles are the OCSF profiles every event applies; shared, never
// changed.
var profiles = []string{"cloud"}

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

// maxMessageBytes caps the event's message: a summary of what happened
// (the whole message is in raw_data).
const maxMessageBytes = 512

// maxWordsBytes is how much of a message's text is read for the words
// that tell a failure, a logon or a logoff.
const maxWordsBytes = 256

// rawOverhead is about what the record schema's JSON adds to a record's
// text (names, quotes, the time).
const rawOverhead = 320

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
	u := &e.Unmapped
	for _, p := range []*string{&u.SAPCategory, &u.SAPApplication, &u.SAPInstanceID, &u.CFOrgID, &u.CFSpaceID, &u.CFAppOrService, &u.CFALSServiceID, &u.SAPChannel} {
		*p = cut(*p, maxUnmappedBytes)
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
	raw, err := sap.AppendJSON(make([]byte, 0, r.TextSize()+rawOverhead), r)
	if err != nil {
		return Event{}, err
	}
	cls := ClassOf(r)
	parts := new(eventParts) // the event's objects, in one allocation
	e := Event{
		ClassUID: cls.UID, ClassName: cls.Caption, CategoryUID: cls.CategoryUID, CategoryName: cls.CategoryName,
		Time:       r.Time.UnixMilli(),
		SeverityID: severityInformational,
		Metadata: Metadata{Version: Version, UID: r.UUID, Profiles: profiles,
			Product: Product{Name: ProductName, VendorName: "SAP", Feature: Feature{Name: FeatureNeo}},
			LogName: r.Category, LogProvider: "SAP BTP Neo", LogVersion: r.FormatVersion, TenantUID: r.Tenant},
		Cloud:    Cloud{Provider: Provider},
		Unmapped: Unmapped{SAPCategory: r.Category},
		// The bytes are never written again: the string shares them.
		RawData: unsafe.String(unsafe.SliceData(raw), len(raw)),
	}
	if len(raw) > MaxString {
		// Too long for string_t: the record goes whole into unmapped,
		// which OCSF leaves free-form.
		e.RawData, e.Unmapped.SAPRawData = "", string(raw)
	}
	if r.Account != "" {
		parts.account = Account{UID: r.Account}
		e.Cloud.Account = &parts.account
	}
	if r.InstanceID != nil {
		e.Unmapped.SAPInstanceID = *r.InstanceID
	}
	svc := r.Application
	if r.CF != nil {
		e.Metadata.Product.Feature.Name, e.Metadata.LogProvider = FeatureCF, "SAP BTP Cloud Foundry"
		if r.CF.OrgID != "" {
			parts.org = Org{UID: r.CF.OrgID}
			e.Cloud.Org = &parts.org
		}
		svc = r.CF.AppOrServiceID
		u := &e.Unmapped
		u.CFOrgID, u.CFSpaceID, u.CFAppOrService, u.CFALSServiceID = r.CF.OrgID, r.CF.SpaceID, r.CF.AppOrServiceID, r.CF.ALSServiceID
	} else if r.Application != "" {
		e.Unmapped.SAPApplication = r.Application
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
			e.Unmapped.SAPIP = capText(s)
		}
	}
	if ip != "" {
		parts.src = Endpoint{IP: ip}
		e.SrcEndpoint = &parts.src
	}
	// What the message says in words: Neo's text, or a JSON message's
	// "data" (security events).
	words := r.Message
	if isJSON {
		words, _ = text(m.Data)
		u := &e.Unmapped
		u.SAPObject, u.SAPDataSubject, u.SAPAttributes, u.SAPChannel = compact(m.Object), compact(m.DataSubject), compact(m.Attributes), compact(m.Channel)
	}
	// The message says what happened in its first words; the whole of it
	// is in raw_data.
	e.Message = words
	if len(words) > maxMessageBytes {
		e.Message = cut(words, maxMessageBytes-len("…")) + "…"
	}
	attrs := attributesOf(m.Attributes)
	// The words that tell a failure or a logon, from the start of the text
	// (where SAP's messages say what happened; a long payload follows).
	var buf [maxWordsBytes]byte
	lower := lowerASCII(buf[:0], cut(words, maxWordsBytes))
	e.StatusID = statusOf(m, attrs, lower)

	app := svc
	if svc == "" {
		svc = Provider
	}
	switch cls.UID {
	case Authentication.UID:
		parts.user, parts.service = User{Name: user}, Service{Name: svc}
		e.User, e.Service = &parts.user, &parts.service // OCSF wants the service or the destination
		e.ActivityID = logonActivity(lower)
		if e.StatusID == statusFailure {
			e.SeverityID = severityMedium
		}
	case DatastoreActivity.UID:
		// The object whose personal data was read or changed is the
		// table; the data subject is in unmapped.
		e.Actor = parts.actorOf(user)
		e.ActivityID = storeRead
		if isCategory(r.Category, catDataModified) {
			e.ActivityID = changeActivity(attrs, storeCreate, storeUpdate, storeDelete)
		}
		res := resourceOf(m)
		parts.table = Table{Name: res.Name, UID: res.UID}
		e.Table = &parts.table
		if app != "" {
			// The application that read or changed the data.
			if e.SrcEndpoint == nil {
				e.SrcEndpoint = &parts.src
			}
			e.SrcEndpoint.SvcName = app
		}
		table := int32(storeTypeTable)
		parts.typeID = table
		e.TypeID = &parts.typeID
	default:
		e.Actor = parts.actorOf(user)
		parts.resources[0] = resourceOf(m)
		e.Resources = parts.resources[:]
		op := r.Category
		if isCategory(r.Category, catConfig) {
			e.ActivityID = changeActivity(attrs, apiCreate, apiUpdate, apiDelete)
			op = configOps[e.ActivityID]
		} else {
			e.ActivityID = activityOther // a category SAP does not document
		}
		if op == "" {
			op = unknown
		}
		parts.service = Service{Name: svc}
		parts.api = API{Operation: op, Service: &parts.service}
		e.API = &parts.api
	}
	if e.SrcEndpoint == nil && cls.UID != Authentication.UID {
		parts.src = Endpoint{Name: unknown} // OCSF requires one
		e.SrcEndpoint = &parts.src
	}
	e.limit()
	e.ActivityName = cls.Activities[e.ActivityID]
	e.TypeUID = int64(cls.UID)*100 + int64(e.ActivityID)
	e.TypeName = cls.typeName(e.ActivityID)
	e.Status = statusNames[e.StatusID]
	e.Severity = severityNames[e.SeverityID]
	return e, nil
}

// eventParts holds an event's nested objects, allocated together.
type eventParts struct {
	account   Account
	org       Org
	src       Endpoint
	user      User
	actorUser User
	actor     Actor
	service   Service
	api       API
	resources [1]Resource
	table     Table
	typeID    int32
}

// actorOf is the actor: the user named.
func (p *eventParts) actorOf(name string) *Actor {
	p.actorUser = User{Name: name}
	p.actor = Actor{User: &p.actorUser}
	return &p.actor
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
func statusOf(m message, attrs []attribute, lower []byte) int32 {
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
	for _, f := range failureWords {
		if bytes.Contains(lower, f) {
			return statusFailure
		}
	}
	return statusUnknown
}

// Words (lower case) that tell a failure, a logoff, a logon.
var (
	failureWords = byteWords("fail", "unsuccessful", "denied", "invalid credentials", "wrong password")
	logoffWords  = byteWords("logoff", "logout", "log off", "log out", "logged off", "logged out", "sign out", "signed out", "sign-out")
	logonWords   = byteWords("logon", "login", "log on", "log in", "logged on", "logged in", "sign in", "signed in", "sign-in", "authenticat")
)

func byteWords(ws ...string) [][]byte {
	out := make([][]byte, len(ws))
	for i, w := range ws {
		out[i] = []byte(w)
	}
	return out
}

// lowerASCII appends s to b with ASCII letters in lower case (the words
// looked for are ASCII).
func lowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// logonActivity reads a security event's words (lower case): a logoff, a
// logon, or another security event.
func logonActivity(lower []byte) int32 {
	for _, k := range logoffWords {
		if bytes.Contains(lower, k) {
			return authLogoff
		}
	}
	for _, k := range logonWords {
		if bytes.Contains(lower, k) {
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
