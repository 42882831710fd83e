package evidence

import (
	"errors"
	"fmt"
	"time"
)

// Window is what verify found of one window in one sink.
type Window struct {
	Manifest    Manifest
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
	Sealed *SealedWindow
	// SealName names that seal, for messages.
	SealName string
	// KeysGiven: public keys were given, so every manifest must be signed
	// by one of them.
	KeysGiven bool
	// Version is the object's current version ID (versioned buckets), ""
	// elsewhere.
	Version string
	// Deltas are the window's later parts, in order.
	Deltas []Part
	// Orphan names an object published as the window's next part without
	// a manifest ("": none).
	Orphan string
}

// Matches reports whether every part is the object its manifest describes.
func (ev Window) Matches() bool {
	if ev.ManifestErr != nil || !ev.HasManifest || !ev.HasObject || ev.SHA256 != ev.Manifest.SHA256 || ev.Bytes != ev.Manifest.Bytes {
		return false
	}
	for _, d := range ev.Deltas {
		if !d.HasObject || d.SHA256 != d.Manifest.SHA256 || d.Bytes != d.Manifest.Bytes {
			return false
		}
	}
	return true
}

// Records is how many records the window's parts hold, per their manifests.
func (ev Window) Records() int64 {
	n := ev.Manifest.Records
	for _, d := range ev.Deltas {
		n += d.Manifest.Records
	}
	return n
}

// NewestCount is the source's count recorded with the newest part that
// has one (-1: none).
func (ev Window) NewestCount() int64 {
	c := ev.Manifest.SourceCount
	for _, d := range ev.Deltas {
		if d.Manifest.SourceCount >= 0 {
			c = d.Manifest.SourceCount
		}
	}
	return c
}

// Verdict is the status of one window in one sink.
type Verdict struct {
	Status   Status
	Exported int64 // records in the object, per its manifest; -1 if none
	Source   int64 // records at the source now; -1 if unknown
	Detail   string
}

// Part is what verify found of one of a window's deltas.
type Part struct {
	Manifest  Manifest
	HasObject bool
	SHA256    string // of the object found
	Bytes     int64
	Version   string // the object's current version ID ("" unversioned)
	// Sealed is the delta's entry in the day's newest seal; nil when the
	// seal does not list it (or the day has no valid seal).
	Sealed *SealedPart
}

// Judge decides from the evidence alone: no object (or no manifest) is
// missing; an object that is not what its manifest recorded, or a manifest
// that cannot be trusted, is a checksum mismatch; the same for each delta;
// a matching window with fewer records in all its parts than the source
// has now is late arrivals when the source's count grew since the newest
// part was written, short otherwise (with no count at all, the two look
// alike: short, said so); anything else is ok (fewer records at the source
// now is retention at work).
func Judge(ev Window) Verdict {
	v := Verdict{Exported: -1, Source: ev.Source}
	m := ev.Manifest
	switch {
	case ev.ManifestErr != nil:
		v.Status, v.Detail = StatusChecksumMismatch, "manifest unreadable: "+ev.ManifestErr.Error()
		v.Source = -1
		return v
	case !ev.HasObject && ev.HasManifest:
		v.Status, v.Detail = StatusDeleted, fmt.Sprintf("%s is gone though its manifest is there: it was deleted outside the exporter; restore it (a versioned bucket keeps it), or move its manifest away to export the window again", m.Object)
		return v
	case !ev.HasObject:
		v.Status, v.Detail = StatusMissing, "no object"
		return v
	case !ev.HasManifest:
		v.Status, v.Detail = StatusMissing, "object without manifest (a run stopped between the two)"
		return v
	}
	first := Part{Manifest: m, HasObject: true, SHA256: ev.SHA256, Bytes: ev.Bytes, Version: ev.Version}
	if ev.Sealed != nil {
		first.Sealed = &ev.Sealed.SealedPart
	}
	v.Exported = m.Records
	if v.Status, v.Detail = judgePart(first, ev.SealName, ev.KeysGiven); v.Status != "" {
		return v
	}
	newest := m
	for i, d := range ev.Deltas {
		v.Exported += d.Manifest.Records
		if st, detail := judgePart(d, ev.SealName, ev.KeysGiven); st != "" {
			v.Status, v.Detail = st, fmt.Sprintf("delta %d (%s): %s", i+1, d.Manifest.Object, detail)
			return v
		}
		if d.Manifest.SourceCount >= 0 || newest.SourceCount < 0 {
			newest = d.Manifest
		}
	}
	if ev.Sealed != nil && len(ev.Sealed.Deltas) > len(ev.Deltas) {
		v.Status, v.Detail = StatusNotAsSealed, fmt.Sprintf("%s lists %d deltas of the window, %d are stored: a delta was deleted", ev.SealName, len(ev.Sealed.Deltas), len(ev.Deltas))
		return v
	}
	if ev.Orphan != "" {
		v.Status, v.Detail = StatusMissing, fmt.Sprintf("%s has no manifest (a run stopped between the two; --repair adopts it)", ev.Orphan)
		return v
	}
	switch {
	case ev.Source > v.Exported && ev.Padded > newest.SourceCount && newest.SourceCount >= 0:
		v.Status, v.Detail = StatusLateArrivals, fmt.Sprintf("%d records became visible after the export at %s", ev.Source-v.Exported, newest.ExportedAt.Format(time.RFC3339))
	case ev.Source > v.Exported && ev.Padded < 0:
		v.Status, v.Detail = StatusShort, fmt.Sprintf("the source has %d records the export lacks (the API sends no count: late arrivals and skipped records look alike)", ev.Source-v.Exported)
	case ev.Source > v.Exported:
		v.Status, v.Detail = StatusShort, fmt.Sprintf("the source has %d records the export lacks", ev.Source-v.Exported)
	default:
		v.Status = StatusOK
		if ev.Source >= 0 && ev.Source < v.Exported {
			v.Detail = fmt.Sprintf("the source now holds %d fewer records (retention?)", v.Exported-ev.Source)
		}
	}
	return v
}

// judgePart checks one part's integrity: its manifest's signature, the
// seal's entry, the object's bytes and version. "" when it holds.
func judgePart(p Part, sealName string, keysGiven bool) (status Status, detail string) {
	m, st := p.Manifest, p.Manifest.Stored
	switch {
	case !p.HasObject:
		return StatusDeleted, "gone though its manifest is there: it was deleted outside the exporter; restore it (a versioned bucket keeps it)"
	case st.SigErr != nil && (keysGiven || !errors.Is(st.SigErr, ErrUnknownKey)):
		return StatusBadSignature, fmt.Sprintf("manifest signed by %s: %v", st.SignedBy(), st.SigErr)
	case keysGiven && st.Signature == nil:
		return StatusBadSignature, "the manifest is not signed, but public keys were given: it was written without a signing key, or replaced"
	case p.Sealed != nil && p.Sealed.ManifestSHA256 != st.SHA256:
		return StatusNotAsSealed, fmt.Sprintf("the manifest is not the one %s lists (sha256 %.12s, sealed %.12s): it was changed or replaced after the day was sealed",
			sealName, st.SHA256, p.Sealed.ManifestSHA256)
	case p.Sealed != nil && p.Sealed.ObjectSHA256 != p.SHA256:
		return StatusNotAsSealed, fmt.Sprintf("the object is not the one %s lists (sha256 %.12s, sealed %.12s)", sealName, p.SHA256, p.Sealed.ObjectSHA256) + stillStored(p)
	case p.SHA256 != m.SHA256 || p.Bytes != m.Bytes:
		return StatusChecksumMismatch, fmt.Sprintf("object has %d bytes, sha256 %.12s; manifest says %d bytes, %.12s", p.Bytes, p.SHA256, m.Bytes, m.SHA256) + stillStored(p)
	case m.ObjectVersion != "" && p.Version != "" && p.Version != m.ObjectVersion:
		return StatusOverwritten, fmt.Sprintf("the object's current version %.40s is not the committed version %.40s (which its bytes match, so the committed version is still stored: restore it)",
			p.Version, m.ObjectVersion)
	}
	return "", ""
}

// stillStored says, on a versioned bucket where the object's current
// version is not the committed one, that the committed one is still there.
func stillStored(p Part) string {
	m := p.Manifest
	if m.ObjectVersion == "" || p.Version == "" || p.Version == m.ObjectVersion {
		return ""
	}
	return fmt.Sprintf("; the current version %.40s is not the committed version %.40s, which is still stored: restore it",
		p.Version, m.ObjectVersion)
}
