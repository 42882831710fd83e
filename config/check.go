package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3client"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3err"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// CheckItem is one line of `check`.
type CheckItem struct {
	Name   string
	Warn   bool   // passed, with a warning in Detail and Hint
	Err    error  // nil: passed
	Detail string // what passed
	Hint   string // what to do about a failure
}

// Check proves the configuration works end to end without exporting
// anything: a token for every account, one record read, every sink and the
// state store writable (a probe object or file, removed afterwards).
func (c *Config) Check(ctx context.Context, log zerolog.Logger) []CheckItem {
	items := []CheckItem{{Name: "config", Detail: fmt.Sprintf("valid: %d account(s), %d sink(s), state %s, window %s", len(c.Sources()), len(c.Sinks), c.State.Type, c.Export.Window)}}
	for _, p := range c.PlainSecrets {
		items = append(items, CheckItem{Name: "config", Warn: true, Detail: p + " is written in the file in plain text",
			Hint: "anyone who can read the file can read the secret: use client_secret_file (a mounted Secret) or ${VAR}"})
	}
	accounts, err := c.BuildSources(log)
	if err != nil {
		return append(items, CheckItem{Name: "sources", Err: err})
	}
	sources := c.Sources()
	for i, a := range accounts {
		client := a.Source
		hint := sources[i].Settings.Hint
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := client.Token(cctx)
		item := CheckItem{Name: a.Name + ": token", Err: err, Detail: "issued by the OAuth endpoint"}
		if err != nil {
			item.Hint = hint(err)
			items = append(items, item, CheckItem{Name: a.Name + ": read audit logs", Err: errors.New("skipped: no token"), Hint: "fix the token first"})
			cancel()
			continue
		}
		items = append(items, item)
		n, err := client.Probe(cctx)
		cancel()
		// The probe asks without a time filter, which SAP documents as the
		// last 30 days: not the whole retention.
		detail := fmt.Sprintf("%d records in the last 30 days (the API's listing without a time filter, not the whole retention)", n)
		if n < 0 {
			detail = "readable (the API counts no records)"
		}
		item = CheckItem{Name: a.Name + ": read audit logs", Err: err, Detail: detail}
		if err != nil {
			item.Hint = hint(err)
		}
		items = append(items, item)
	}
	groups, err := c.buildSinkGroups(ctx, "check", nil, nil)
	if err != nil {
		return append(items, CheckItem{Name: "sinks", Err: err, Hint: storageHint(err)})
	}
	if signer, err := c.signer(); err == nil && signer != nil && len(groups) > 0 {
		// Read and parsed when the sinks were built; say which key it is.
		items = append(items, CheckItem{Name: "evidence", Detail: fmt.Sprintf("manifests and seals are signed with key %s (%s); give auditors its public key", signer.KeyID(), c.Evidence.SigningKeyFile)})
	}
	for i, g := range groups {
		cs := c.Sinks[i]
		if cs.Layout == LayoutSecurityLake {
			items = append(items, securityLakeItem(i, cs))
		}
		for _, s := range g {
			detail := "writable (probe written and removed)"
			if cs.S3.ObjectLock.Mode != "" {
				detail += fmt.Sprintf("; Object Lock enabled on the bucket, objects kept %s for %d days", cs.S3.ObjectLock.Mode, cs.S3.ObjectLock.RetentionDays)
			}
			item := CheckItem{Name: fmt.Sprintf("sinks[%d] %s", i, s.Name()), Detail: detail}
			if item.Err = s.Probe(ctx); item.Err != nil {
				item.Hint = storageHint(item.Err)
			}
			items = append(items, item)
		}
	}
	item := CheckItem{Name: "state " + c.State.Type, Detail: "writable (probe written and removed)"}
	store, err := c.OpenStore(ctx, false)
	if err != nil {
		item.Err = err
		if errors.Is(err, state.ErrLocked) {
			item.Hint = "a run is going right now: that is fine, run check again later to probe the directory"
		} else {
			item.Hint = storageHint(err)
		}
		return append(items, item)
	}
	defer func() { _ = store.Close() }()
	if item.Err = store.Probe(ctx); item.Err != nil {
		item.Hint = storageHint(item.Err)
	}
	for _, a := range accounts {
		if _, err := store.Load(ctx, a.Name); err != nil && errclass.Classify(err) != errclass.Unknown {
			if item.Err == nil {
				item.Err = err
				item.Hint = "the saved state cannot be read; see the message"
			}
		}
	}
	items = append(items, item)
	if item.Err != nil {
		return items
	}
	return append(items, c.checkNextRun(ctx, accounts, store, log)...)
}

// catchUpWarning is the span of windows due above which check says how
// long a catch-up the next run is.
const catchUpWarning = 7 * 24 * time.Hour

// checkNextRun says, per account, what the next run would export, and
// warns about windows past the API's retention (they can no longer be
// complete) and about a long catch-up.
func (c *Config) checkNextRun(ctx context.Context, accounts []exporter.Account, store state.Store, log zerolog.Logger) []CheckItem {
	ex, parts, err := c.Build(ctx, exporter.Options{Log: log, Store: store}, io.Discard, false)
	if err != nil {
		return []CheckItem{{Name: "next run", Err: err}}
	}
	defer func() { _ = parts.Close() }()
	var items []CheckItem
	for i, p := range ex.Plan(ctx) {
		item := CheckItem{Name: p.Account + ": next run"}
		if p.Err != nil {
			item.Err, item.Hint = p.Err, "see the message"
			items = append(items, item)
			continue
		}
		from := "export.start"
		if p.Saved {
			from = "the saved watermark"
		}
		if p.Windows == 0 {
			item.Detail = fmt.Sprintf("nothing due yet (from %s, %s)", from, p.Watermark.Format(time.RFC3339))
			items = append(items, item)
			continue
		}
		item.Detail = fmt.Sprintf("%d windows due, %s .. %s (from %s)", p.Windows, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), from)
		keep, how := accounts[i].Source.Retention(ctx)
		horizon := time.Now().Add(-keep)
		switch {
		case keep > 0 && p.From.Before(horizon):
			item.Warn = true
			item.Detail += fmt.Sprintf("; the API keeps records %d days (%s): windows before %s can no longer be complete", int(keep/(24*time.Hour)), how, horizon.Format(time.DateOnly))
			item.Hint = fmt.Sprintf("set export.start to %s or later (or state set --watermark), unless those windows are wanted as they are", horizon.Add(24*time.Hour).Format(time.DateOnly))
		case p.To.Sub(p.From) > catchUpWarning:
			item.Warn = true
			item.Detail += fmt.Sprintf("; a catch-up of %d days", int(p.To.Sub(p.From)/(24*time.Hour)))
			item.Hint = "the first run exports all of it before it returns: run --dry-run shows what is due; backfill --parallel N (then state set --watermark) is faster, or set export.start later"
		}
		items = append(items, item)
	}
	return items
}

// CheckError summarizes failed items as one error whose class decides the
// exit code: auth (3) over config (2) over anything else (1).
func CheckError(items []CheckItem) error {
	var failed []string
	class := errclass.Unknown
	for _, it := range items {
		if it.Err == nil {
			continue
		}
		failed = append(failed, it.Name)
		switch c := errclass.Classify(it.Err); {
		case c == errclass.Auth:
			class = errclass.Auth
		case c == errclass.Config && class != errclass.Auth:
			class = errclass.Config
		case class == errclass.Unknown:
			class = errclass.Retryable
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return errclass.Mark(class, fmt.Errorf("check failed: %s", strings.Join(failed, ", ")))
}

// storageHint suggests what to do about a sink or state store that failed.
func storageHint(err error) string {
	switch {
	case s3err.NoBucket(err):
		return "bucket not found: check bucket, region and endpoint (and path_style for S3-compatible servers)"
	case s3err.Denied(err):
		return "access denied: grant the IAM permissions listed in the README (s3:PutObject, s3:GetObject, s3:DeleteObject, s3:AbortMultipartUpload, s3:ListBucket, s3:ListBucketMultipartUploads)"
	case errors.Is(err, s3client.ErrNoRegion):
		return "set region in the configuration or AWS_REGION"
	case s3err.NoCredentials(err):
		return "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or IRSA (web identity) on Kubernetes"
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EROFS):
		return "the directory is not writable by this user: check its owner and mode (and the volume mount on Kubernetes)"
	case errors.Is(err, fs.ErrNotExist):
		return "the directory cannot be created (a parent is missing or takes no new directories): check the path (and the volume mount on Kubernetes)"
	}
	return "see the message"
}

// securityLakeItem says which custom sources a Security Lake sink writes
// to: one per OCSF class, each to be created in Security Lake first.
func securityLakeItem(i int, s SinkConfig) CheckItem {
	classes, prefixes := s.SecurityLakeSources()
	var names []string
	for k, c := range classes {
		name := path.Base(strings.TrimSuffix(prefixes[k], "/"))
		names = append(names, fmt.Sprintf("%s (OCSF class %s, %d)", name, c.Caption, c.UID))
	}
	return CheckItem{Name: fmt.Sprintf("sinks[%d] Security Lake", i),
		Detail: fmt.Sprintf("writes %d custom sources (create each in Security Lake before the first run), account %s, region %s: %s",
			len(classes), s.SecurityLakeAccountID, s.S3.Region, strings.Join(names, "; "))}
}
