package cfaudit

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
)

// KymaKeys are the keys of the Secret kyma-system/auditlog-read-credentials
// that Kyma creates with its Audit Log Access (auditLogAccess) parameter:
// the API's base URL, the OAuth 2.0 client ID and secret, and the token
// endpoint (given as the endpoint itself or as its base).
var KymaKeys = []string{"url", "clientID", "clientSecret", "tokenUrl"}

// MaxCredentialFileBytes bounds one file of a mounted credentials Secret.
const MaxCredentialFileBytes = 64 << 10

// ParseKymaCredentials reads the keys of Kyma's audit log read credentials
// Secret (values by key name, as Kubernetes stores them) into a service
// key with a client secret. It is strict: a key it does not know, a key
// missing or empty, or a URL that is not https is an error naming the key;
// no value but a URL ever appears in an error. A trailing line break (a
// value written with echo) is dropped.
//
// where names a key in errors (a mounted Secret's file path); nil names
// the key alone.
func ParseKymaCredentials(values map[string][]byte, where func(key string) string) (ServiceKey, error) {
	if where == nil {
		where = func(k string) string { return k }
	}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains(KymaKeys, k) {
			problems = append(problems, fmt.Sprintf("%s: not a key of the Secret auditlog-read-credentials (its keys: %s)", strconv.Quote(where(shortText(k))), strings.Join(KymaKeys, ", ")))
		}
	}
	get := func(k string) string {
		v, ok := values[k]
		switch s := string(bytes.TrimRight(v, "\r\n")); {
		case !ok:
			problems = append(problems, where(k)+": missing")
		case s == "":
			problems = append(problems, where(k)+": empty")
		default:
			return s
		}
		return ""
	}
	k := ServiceKey{URL: get("url"), UAA: UAA{ClientID: get("clientID"), ClientSecret: get("clientSecret"), URL: get("tokenUrl")}}
	for field, v := range map[string]string{"url": k.URL, "tokenUrl": k.UAA.URL} {
		if v == "" {
			continue
		}
		if err := CheckURL(v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where(field), err))
		}
	}
	for field, v := range map[string]string{"clientID": k.UAA.ClientID, "clientSecret": k.UAA.ClientSecret} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			problems = append(problems, where(field)+": holds control characters or line breaks")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return ServiceKey{}, errors.New(strings.Join(problems, "; "))
	}
	return k, nil
}

// ReadCredentialsDir reads Kyma's audit log read credentials Secret
// mounted as a directory: one file per key, as Kubernetes mounts a Secret
// volume (each key a symbolic link into ..data, itself a link to a
// timestamped directory; entries whose names begin with ".." are that
// machinery and are skipped). Each file is read as a regular file of at
// most MaxCredentialFileBytes. Errors name the directory or the file,
// never a value of the Secret.
func ReadCredentialsDir(dir string) (ServiceKey, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return ServiceKey{}, err
	}
	if !fi.IsDir() {
		return ServiceKey{}, fmt.Errorf("%s is not a directory (want the Secret auditlog-read-credentials mounted as a volume)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ServiceKey{}, err
	}
	values := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue
		}
		if !slices.Contains(KymaKeys, name) {
			values[name] = nil // named as unknown by ParseKymaCredentials, not read
			continue
		}
		b, err := safefile.ReadFile(filepath.Join(dir, name), MaxCredentialFileBytes)
		if err != nil {
			return ServiceKey{}, err
		}
		values[name] = b
	}
	return ParseKymaCredentials(values, func(k string) string { return filepath.Join(dir, k) })
}
