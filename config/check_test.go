package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3client"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/aws/smithy-go"
)

// Hints are chosen by the type of the error, wherever it is in the chain.
func TestCheckHints(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("account a: get token: %w", err) }
	// The sources' hints, as check finds them: through the registry.
	sourceHint, cfHint := Builtin().sourceType(SourceNeo).New().Hint, Builtin().sourceType(SourceCF).New().Hint
	for _, tc := range []struct {
		name string
		err  error
		hint func(error) string
		want string
	}{
		{"dns", wrap(&url.Error{Op: "Post", URL: "https://x", Err: &net.DNSError{Err: "no such host", Name: "x"}}), sourceHint, "does not resolve"},
		{"refused", wrap(&url.Error{Op: "Post", URL: "https://x", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}), sourceHint, "not reachable"},
		{"unknown CA", wrap(&url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}), sourceHint, "source.ca_file"},
		{"credentials", wrap(fmt.Errorf("get token: %w (HTTP 401)", apiclient.ErrCredentialsRefused)), sourceHint, "client_secret"},
		{"403", wrap(fmt.Errorf("%w; may not read", &apiclient.StatusError{Code: 403})), sourceHint, "Read Audit Logs"},
		{"404", wrap(&apiclient.StatusError{Code: 404}), sourceHint, "region host"},
		{"401", wrap(&apiclient.StatusError{Code: 401}), sourceHint, "rejects the token"},
		{"500", wrap(&apiclient.StatusError{Code: 500}), sourceHint, "see the message"},
		{"a message that merely mentions 403", errors.New("HTTP 403 certificate no such host"), sourceHint, "see the message"},
		{"no bucket", fmt.Errorf("sink: %w", &smithy.GenericAPIError{Code: "NoSuchBucket"}), storageHint, "bucket not found"},
		{"denied", fmt.Errorf("sink: %w", &smithy.GenericAPIError{Code: "SignatureDoesNotMatch"}), storageHint, "access denied"},
		{"region", fmt.Errorf("sinks[1].region: %w", s3client.ErrNoRegion), storageHint, "AWS_REGION"},
		{"no credentials", errors.New("operation error S3: ListObjectsV2, get identity: get credentials: failed to refresh cached credentials"), storageHint, "no AWS credentials"},
		{"not a directory", fmt.Errorf("sink: %w", &fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.ENOTDIR}), storageHint, "not writable"},
		{"permission", fmt.Errorf("state directory /x is not writable: %w", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}), storageHint, "not writable"},
		{"read-only", fmt.Errorf("sink: %w", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}), storageHint, "not writable"},
		{"cannot be created", fmt.Errorf("sink: %w", &fs.PathError{Op: "mkdir", Path: "/proc/x", Err: syscall.ENOENT}), storageHint, "cannot be created"},
		{"other", errors.New("bucket does not exist, denied, region, credential"), storageHint, "see the message"},
		{"cf: credentials", wrap(fmt.Errorf("get token: %w (HTTP 401)", apiclient.ErrCredentialsRefused)), cfHint, "service_key_file"},
		{"cf: 403", wrap(&apiclient.StatusError{Code: 403}), cfHint, "plan default"},
		{"cf: 404", wrap(&apiclient.StatusError{Code: 404}), cfHint, "service key's url"},
		{"cf: client certificate refused", wrap(&url.Error{Op: "Post", URL: "https://x", Err: tls.AlertError(116)}), cfHint, "client certificate"},
		{"cf: dns", wrap(&url.Error{Op: "Post", URL: "https://x", Err: &net.DNSError{Err: "no such host", Name: "x"}}), cfHint, "service key does not resolve"},
		{"cf: a message that merely mentions tls", errors.New("tls: certificate 403"), cfHint, "see the message"},
	} {
		if got := tc.hint(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("%s: hint %q, want one about %q", tc.name, got, tc.want)
		}
	}
}
