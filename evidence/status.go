package evidence

// Status is what verify found of one window (Judge) or one day (JudgeDay)
// in one sink. It is written as its string.
type Status string

// Window statuses.
const (
	StatusOK               Status = "ok"
	StatusMissing          Status = "missing"           // no object (or no manifest) for the window
	StatusChecksumMismatch Status = "checksum-mismatch" // the object is not what was committed
	StatusLateArrivals     Status = "late-arrivals"     // the source has records that became visible after the export
	StatusShort            Status = "short"             // the object holds fewer records than the source had at export time
	StatusBadSignature     Status = "bad-signature"     // the manifest's signature fails, is by an unknown key, or is missing while keys were given
	StatusNotAsSealed      Status = "not-as-sealed"     // the manifest or object differs from what the day's seal lists
	StatusOverwritten      Status = "overwritten"       // the object's current version is not the committed one (versioned bucket)
	StatusDeleted          Status = "deleted"           // the manifest is there, the committed object is not
)

// Day statuses.
const (
	DaySealed     Status = "sealed"     // the seal chain holds and covers every window as it is
	DayOpen       Status = "open"       // not every window of the day is due yet: nothing to seal
	DayUnsealed   Status = "unsealed"   // every window is committed but no seal covers them
	DayIncomplete Status = "incomplete" // windows of a due day are not committed, and no seal covers it
	DayPartial    Status = "partial"    // only part of the day is in the range checked, and it has no seal: its windows are checked one by one
	DayBroken     Status = "broken"     // a seal is missing, altered, badly signed, or does not match the windows
)

// WindowStatuses lists every window status, problems after ok.
func WindowStatuses() []Status {
	return []Status{StatusOK, StatusMissing, StatusShort, StatusLateArrivals, StatusChecksumMismatch, StatusBadSignature, StatusNotAsSealed, StatusOverwritten, StatusDeleted}
}

// DayStatuses lists every day status, problems after the three that are not.
func DayStatuses() []Status {
	return []Status{DaySealed, DayOpen, DayPartial, DayUnsealed, DayIncomplete, DayBroken}
}

// OK reports whether a window or day status is not a problem.
func (s Status) OK() bool {
	return s == StatusOK || s == DaySealed || s == DayOpen || s == DayPartial
}

// Appendable reports whether verify --repair mends a window status by
// appending: a missing first object, records the export lacks (as a
// delta), an object without its manifest (adopted). A damaged, replaced
// or badly signed object is reported, never replaced: consumers ingested
// it already.
func (s Status) Appendable() bool {
	return s == StatusMissing || s == StatusLateArrivals || s == StatusShort
}

// Meaning says what a problem status means for an auditor ("" for a
// status that is not a problem).
func (s Status) Meaning() string {
	switch s {
	case StatusMissing:
		return "The window's object or manifest is not in the sink: it was deleted, or never written. Records of that hour are not in the archive."
	case StatusShort:
		return "The source holds records the object lacks that it already held when the window was exported: the archive is incomplete for that window."
	case StatusLateArrivals:
		return "Records became visible at the source after the window was exported. Not tampering; --repair adds them."
	case StatusChecksumMismatch:
		return "The object is not the one whose digest its manifest recorded, or the manifest is unreadable: the object was edited, truncated or replaced."
	case StatusBadSignature:
		return "The manifest's signature does not verify, is by a key that was not given, or is missing: the manifest was written by someone else or changed."
	case StatusNotAsSealed:
		return "The manifest or object differs from what the day's seal recorded: it was changed or replaced after the day was sealed."
	case StatusOverwritten:
		return "A newer version of the object hides the committed one (versioned bucket): the committed version is still stored."
	case StatusDeleted:
		return "The committed object was deleted though its manifest is there: consumers ingested it, the exporter does not write it again; restore it from the bucket's versions."
	case DayUnsealed:
		return "Every window of the day is there but no seal covers them: the seal was deleted, or the exporter stopped before writing it."
	case DayIncomplete:
		return "Windows of a day that is over are missing and the day was never sealed."
	case DayBroken:
		return "The seal chain does not hold: a seal was deleted, replaced, badly signed, or does not match the windows it lists."
	}
	return ""
}
