package ocsf

import (
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// AppendJSON appends e as one JSON object: the bytes json.Marshal writes
// for an Event (members in field order, empty optional members absent, an
// object that would be empty absent where it is optional), without
// reflection. Invalid UTF-8 in a string is an error, as it is for
// json.Marshal.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.open()
	w.num("activity_id", int64(e.ActivityID))
	w.str("activity_name", e.ActivityName, false)
	w.num("category_uid", int64(e.CategoryUID))
	w.str("category_name", e.CategoryName, false)
	w.num("class_uid", int64(e.ClassUID))
	w.str("class_name", e.ClassName, false)
	w.num("type_uid", e.TypeUID)
	w.str("type_name", e.TypeName, false)
	w.num("severity_id", int64(e.SeverityID))
	w.str("severity", e.Severity, false)
	w.num("status_id", int64(e.StatusID))
	w.str("status", e.Status, false)
	w.num("time", e.Time)
	w.str("message", e.Message, true)
	w.object("metadata", false, func() {
		m := &e.Metadata
		w.str("version", m.Version, false)
		w.str("uid", m.UID, false)
		w.object("product", false, func() {
			w.str("name", m.Product.Name, false)
			w.str("vendor_name", m.Product.VendorName, false)
			w.object("feature", false, func() { w.str("name", m.Product.Feature.Name, false) })
		})
		w.strs("profiles", m.Profiles)
		w.str("log_name", m.LogName, true)
		w.str("log_provider", m.LogProvider, false)
		w.str("log_version", m.LogVersion, true)
		w.str("tenant_uid", m.TenantUID, true)
	})
	w.object("cloud", false, func() {
		w.str("provider", e.Cloud.Provider, false)
		if a := e.Cloud.Account; a != nil {
			w.object("account", true, func() { w.str("uid", a.UID, false) })
		}
		if o := e.Cloud.Org; o != nil {
			w.object("org", true, func() { w.str("uid", o.UID, false) })
		}
	})
	if a := e.Actor; a != nil {
		w.object("actor", true, func() {
			if u := a.User; u != nil {
				w.object("user", true, func() { w.str("name", u.Name, false) })
			}
		})
	}
	if u := e.User; u != nil {
		w.object("user", true, func() { w.str("name", u.Name, false) })
	}
	if s := e.SrcEndpoint; s != nil {
		w.object("src_endpoint", true, func() {
			w.str("ip", s.IP, true)
			w.str("svc_name", s.SvcName, true)
			w.str("name", s.Name, true)
		})
	}
	if s := e.Service; s != nil {
		w.object("service", true, func() { w.str("name", s.Name, false) })
	}
	if a := e.API; a != nil {
		w.object("api", true, func() {
			w.str("operation", a.Operation, false)
			if s := a.Service; s != nil {
				w.object("service", true, func() { w.str("name", s.Name, false) })
			}
		})
	}
	if len(e.Resources) > 0 {
		w.key("resources")
		w.b = append(w.b, '[')
		for i := range e.Resources {
			r := &e.Resources[i]
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.open()
			w.str("name", r.Name, true)
			w.str("uid", r.UID, true)
			w.str("type", r.Type, true)
			w.b = append(w.b, '}')
			w.first = false
		}
		w.b = append(w.b, ']')
	}
	if t := e.Table; t != nil {
		w.object("table", true, func() {
			w.str("name", t.Name, true)
			w.str("uid", t.UID, true)
		})
	}
	if e.TypeID != nil {
		w.num("type_id", int64(*e.TypeID))
	}
	w.object("unmapped", false, func() {
		u := &e.Unmapped
		w.str("sap_category", u.SAPCategory, false)
		w.str("sap_application", u.SAPApplication, true)
		w.str("sap_instance_id", u.SAPInstanceID, true)
		w.str("cf_org_id", u.CFOrgID, true)
		w.str("cf_space_id", u.CFSpaceID, true)
		w.str("cf_app_or_service_id", u.CFAppOrService, true)
		w.str("cf_als_service_id", u.CFALSServiceID, true)
		w.str("sap_object", u.SAPObject, true)
		w.str("sap_data_subject", u.SAPDataSubject, true)
		w.str("sap_attributes", u.SAPAttributes, true)
		w.str("sap_channel", u.SAPChannel, true)
		w.str("sap_ip", u.SAPIP, true)
		w.str("sap_raw_data", u.SAPRawData, true)
	})
	w.str("raw_data", e.RawData, false)
	w.b = append(w.b, '}')
	return w.b, w.err
}

// jsonWriter appends the members of nested JSON objects.
type jsonWriter struct {
	b     []byte
	first bool // no member yet in the object being written
	err   error
}

func (w *jsonWriter) open() {
	w.b = append(w.b, '{')
	w.first = true
}

// key starts a member (names here need no escaping).
func (w *jsonWriter) key(name string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) str(name, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	w.key(name)
	var err error
	if w.b, err = jsontext.AppendQuote(w.b, v); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *jsonWriter) num(name string, v int64) {
	w.key(name)
	w.b = strconv.AppendInt(w.b, v, 10)
}

// strs writes an array of strings ([] when there are none: never omitted).
func (w *jsonWriter) strs(name string, vs []string) {
	w.key(name)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		var err error
		if w.b, err = jsontext.AppendQuote(w.b, v); err != nil && w.err == nil {
			w.err = err
		}
	}
	w.b = append(w.b, ']')
}

// object writes a member whose value is the object fill writes; an
// optional one that stays empty ({}) is taken back, as omitempty does.
func (w *jsonWriter) object(name string, omitEmpty bool, fill func()) {
	mark, outerFirst := len(w.b), w.first
	w.key(name)
	w.open()
	fill()
	if omitEmpty && w.first {
		w.b, w.first = w.b[:mark], outerFirst
		return
	}
	w.b = append(w.b, '}')
	w.first = false
}
