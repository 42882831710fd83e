package exporter

import (
	"errors"
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// Evidence is what verify found of one window in one sink.
type Evidence struct {
	Manifest    sinks.Manifest
	HasManifest bool
	// ManifestErr: the manifest could not be read, or does not describe
	// this window validly (it is outside input).
	ManifestErr error
	HasObject   bool
	SHA256      string // of the object found
	Bytes       int64  // of the object found
	// Padded is the source's count of the window's padded query now (as
	// the manifest's source_count was at export); -1 when the API counts
	// nothing.
	Padded int64
	// Source is how many records the window holds at the source now; -1
	// when not fetched (needed only when the object matches its manifest).
	Source int64
	// Sealed is the window's entry in its day's newest seal; nil when the
	// day has no valid seal.
	Sealed *sinks.SealedWindow
	// SealName names that seal, for messages.
	SealName string
	// KeysGiven: public keys were given, so every manifest must be signed
	// by one of them.
	KeysGiven bool
	// Object is what the destination says of the object (S3: its current
	// version and lock).
	Object sinks.ObjectInfo
}

// Matches reports whether the object is the one its manifest describes.
func (ev Evidence) Matches() bool {
	return ev.ManifestErr == nil && ev.HasManifest && ev.HasObject && ev.SHA256 == ev.Manifest.SHA256 && ev.Bytes == ev.Manifest.Bytes
}

// Verdict is the status of one window in one sink.
type Verdict struct {
	Status   string
	Exported int64 // records in the object, per its manifest; -1 if none
	Source   int64 // records at the source now; -1 if unknown
	Detail   string
}

// Judge decides from the evidence alone: no object (or no manifest) is
// missing; an object that is not what its manifest recorded, or a manifest
// that cannot be trusted, is a checksum mismatch; a matching object with
// fewer records than the source has now is late arrivals when the
// source's count grew since the export, short otherwise (with no count at
// all, the two look alike: short, said so); anything else is ok (fewer
// records at the source now is retention at work).
func Judge(ev Evidence) Verdict {
	v := Verdict{Exported: -1, Source: ev.Source}
	m := ev.Manifest
	switch {
	case ev.ManifestErr != nil:
		v.Status, v.Detail = StatusChecksumMismatch, "manifest unreadable: "+ev.ManifestErr.Error()
		v.Source = -1
		return v
	case !ev.HasObject:
		v.Status, v.Detail = StatusMissing, "no object"
		return v
	case !ev.HasManifest:
		v.Status, v.Detail = StatusMissing, "object without manifest (a run stopped between the two)"
		return v
	}
	v.Exported = m.Records
	st := m.Stored
	switch {
	case st.SigErr != nil && (ev.KeysGiven || !errors.Is(st.SigErr, evidence.ErrUnknownKey)):
		v.Status, v.Detail = StatusBadSignature, fmt.Sprintf("manifest signed by %s: %v", st.SignedBy(), st.SigErr)
		return v
	case ev.KeysGiven && st.Signature == nil:
		v.Status, v.Detail = StatusBadSignature, "the manifest is not signed, but public keys were given: it was written without a signing key, or replaced"
		return v
	case ev.Sealed != nil && ev.Sealed.ManifestSHA256 != st.SHA256:
		v.Status, v.Detail = StatusNotAsSealed, fmt.Sprintf("the manifest is not the one %s lists (sha256 %.12s, sealed %.12s): it was changed or replaced after the day was sealed",
			ev.SealName, st.SHA256, ev.Sealed.ManifestSHA256)
		return v
	case ev.Sealed != nil && ev.HasObject && ev.Sealed.ObjectSHA256 != ev.SHA256:
		v.Status, v.Detail = StatusNotAsSealed, fmt.Sprintf("the object is not the one %s lists (sha256 %.12s, sealed %.12s)", ev.SealName, ev.SHA256, ev.Sealed.ObjectSHA256)+stillStored(ev)
		return v
	}
	if !ev.Matches() {
		v.Status, v.Detail = StatusChecksumMismatch, fmt.Sprintf("object has %d bytes, sha256 %.12s; manifest says %d bytes, %.12s", ev.Bytes, ev.SHA256, m.Bytes, m.SHA256)+stillStored(ev)
		return v
	}
	overwritten := m.ObjectVersion != "" && ev.Object.Version != "" && ev.Object.Version != m.ObjectVersion
	if overwritten {
		v.Status, v.Detail = StatusOverwritten, fmt.Sprintf("the object's current version %.40s is not the committed version %.40s (which its bytes match, so the committed version is still stored: restore it, or --repair exports the window again)",
			ev.Object.Version, m.ObjectVersion)
		return v
	}
	switch {
	case ev.Source > m.Records && ev.Padded > m.SourceCount:
		v.Status, v.Detail = StatusLateArrivals, fmt.Sprintf("%d records became visible after the export at %s", ev.Source-m.Records, m.ExportedAt.Format(time.RFC3339))
	case ev.Source > m.Records && ev.Padded < 0:
		v.Status, v.Detail = StatusShort, fmt.Sprintf("the source has %d records the export lacks (the API sends no count: late arrivals and skipped records look alike)", ev.Source-m.Records)
	case ev.Source > m.Records:
		v.Status, v.Detail = StatusShort, fmt.Sprintf("the source has %d records the export lacks", ev.Source-m.Records)
	default:
		v.Status = StatusOK
		if ev.Source >= 0 && ev.Source < m.Records {
			v.Detail = fmt.Sprintf("the source now holds %d fewer records (retention?)", m.Records-ev.Source)
		}
	}
	return v
}

// stillStored says, on a versioned bucket where the object's current
// version is not the committed one, that the committed one is still there.
func stillStored(ev Evidence) string {
	m := ev.Manifest
	if m.ObjectVersion == "" || ev.Object.Version == "" || ev.Object.Version == m.ObjectVersion {
		return ""
	}
	return fmt.Sprintf("; the current version %.40s is not the committed version %.40s, which is still stored: restore it, or --repair exports the window again",
		ev.Object.Version, m.ObjectVersion)
}
