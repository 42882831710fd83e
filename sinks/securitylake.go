package sinks

import (
	"strings"
)

// SecurityLakeLayout names data objects as AWS Security Lake wants a
// custom source's objects: region=<region>/accountId=<id>/eventDay=<YYYYMMDD>/
// under the source's prefix. The object's own name (account, window,
// part) is kept, so windows never share an object. Manifests and seals keep
// their names (under _manifests/ and _seals/ beside the partitions).
func SecurityLakeLayout(region, accountID string) func(name string) string {
	return func(name string) string {
		dirs, base, ok := strings.Cut(name, "/")
		if !ok || !strings.HasPrefix(dirs, "account=") {
			return name
		}
		date, base, ok := strings.Cut(base, "/")
		day, isDate := strings.CutPrefix(date, "date=")
		if !ok || !isDate || len(day) != len("2006-01-02") {
			return name
		}
		return "region=" + region + "/accountId=" + accountID + "/eventDay=" + strings.ReplaceAll(day, "-", "") + "/" + base
	}
}

// MaxSecurityLakeObjectSize is the largest object Security Lake wants
// from a custom source (256 MB).
const MaxSecurityLakeObjectSize = 256 << 20
