// Package audit holds the audit record of the product's schema and the time
// window it is exported in. Sources produce records, sinks consume them;
// neither depends on the other.
package audit

import (
	"fmt"
	"time"
)

// Record is one audit log record, normalized: Time is UTC, InstanceID is nil
// when the source sent null. Field names follow the output schema.
type Record struct {
	UUID          string
	Time          time.Time
	Category      string
	User          string
	Tenant        string
	Account       string
	Application   string // Neo only: written as null for Cloud Foundry records
	Message       string
	InstanceID    *string
	FormatVersion string
	// CF holds what only Cloud Foundry records carry; nil for Neo records.
	CF *CFFields
}

// CFFields are the fields only a Cloud Foundry record has.
type CFFields struct {
	OrgID          string
	SpaceID        string
	AppOrServiceID string
	ALSServiceID   string
}

// The APIs a record can come from (the "source" column).
const (
	SourceNeo = "neo"
	SourceCF  = "cf"
)

// TextSize is the size of the record's text in bytes (what a writer
// buffering records holds), for bounds on memory.
func (r *Record) TextSize() int {
	n := len(r.UUID) + len(r.Category) + len(r.User) + len(r.Tenant) + len(r.Account) + len(r.Application) + len(r.Message) + len(r.FormatVersion)
	if r.InstanceID != nil {
		n += len(*r.InstanceID)
	}
	if r.CF != nil {
		n += len(r.CF.OrgID) + len(r.CF.SpaceID) + len(r.CF.AppOrServiceID) + len(r.CF.ALSServiceID)
	}
	return n
}

// Source names the API the record came from.
func (r *Record) Source() string {
	if r.CF != nil {
		return SourceCF
	}
	return SourceNeo
}

// Window is the half-open interval [Start, End) of one account's export.
type Window struct {
	Account string
	Start   time.Time
	End     time.Time
}

// Contains reports whether t falls in [Start, End).
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// String renders the window as "account 2026-11-24T10:00:00Z/2026-11-24T11:00:00Z".
func (w Window) String() string {
	return fmt.Sprintf("%s %s/%s", w.Account, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
}

// Span renders only the interval, for log fields.
func (w Window) Span() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// Equal reports whether r and o hold the same values (InstanceID and CF
// compared by value, Time by instant).
func (r *Record) Equal(o *Record) bool {
	if (r.InstanceID == nil) != (o.InstanceID == nil) || (r.InstanceID != nil && *r.InstanceID != *o.InstanceID) {
		return false
	}
	if (r.CF == nil) != (o.CF == nil) || (r.CF != nil && *r.CF != *o.CF) {
		return false
	}
	return r.UUID == o.UUID && r.Time.Equal(o.Time) && r.Category == o.Category && r.User == o.User &&
		r.Tenant == o.Tenant && r.Account == o.Account && r.Application == o.Application &&
		r.Message == o.Message && r.FormatVersion == o.FormatVersion
}
