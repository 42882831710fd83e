package main

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/internal/atomicfile"
	"github.com/auditlog-exporter/auditlog-exporter/internal/textsafe"
	"github.com/auditlog-exporter/auditlog-exporter/report"
	"github.com/spf13/cobra"
)

func newVerifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, from, to, output, reportFile string
	var keyFiles []string
	var repair, evidenceOnly, deep bool
	cmd := &cobra.Command{
		Use:   "verify --config FILE --from T --to T [--repair] [--evidence-only] [--deep] [--public-key FILE]... [--report FILE.html] [--output text|json]",
		Short: "Prove the export is complete and untouched: check objects, manifests, seals and the source",
		Long: `For every complete window in [--from, --to) of every account and every file or
S3 sink, check the object against its manifest (present, same SHA-256 as
committed), the manifest against its day's seal, and the source's current
count of records in the window against the export. Window status per sink:
ok, missing, checksum-mismatch, late-arrivals (records became visible after
the export), short (the object lacks records the source had at export time),
bad-signature, not-as-sealed (changed after the day was sealed), overwritten
(a newer S3 version hides the committed one). A sink that keeps nothing to
read back (stdout) is listed as not verifiable.

Every UTC day the windows touch is checked as a link of the seal chain: each
seal generation valid and signed, each superseding the one before it as
stored, linked to the day before's seal and linked from the day after's as
stored, and covering every window as it is now. Day status: sealed, open (not
over yet), partial (only partly in the range, and not sealed), unsealed,
incomplete, broken.

--public-key FILE (repeatable, PEM) requires every manifest and seal to be
signed by one of the keys; without it, signatures are reported, not required.
--evidence-only does not ask the source (no API credentials needed; an auditor
with read access to the sinks runs it). --report writes a self-contained HTML
page of the same facts that --output json prints.

An S3 object is proven by the SHA-256 of the whole object that S3 computed
when it was committed and keeps (one HEAD request: nothing is downloaded
unless a window's records must be read); --deep downloads and hashes every
object anyway, which also catches bytes changed behind S3's back (on its
disks, not through its API). File sink objects are always hashed.

--repair appends what windows lack (a missing object, late records as a delta
holding only them, a manifest for an object left without one), never replacing
a committed object (a damaged one is reported), seals the days left unsealed or
changed (a new generation that supersedes the old one, which stays), and
verifies them again. Exit 0
when everything matches, 1 otherwise.`,
		Example: `  auditlog-exporter verify --config config.yaml --from -72h --to now --repair
  auditlog-exporter verify --config auditor.yaml --from 2026-01-01 --to 2026-07-01 \
      --evidence-only --public-key exporter.pub --report report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want text or json", output)}
			}
			if repair && evidenceOnly {
				return usageError{fmt.Errorf("--repair exports from the source, which --evidence-only does not ask: choose one")}
			}
			if reportFile != "" && !strings.HasSuffix(strings.ToLower(reportFile), ".html") {
				return usageError{fmt.Errorf("--report %q: the report is an HTML page; name it FILE.html", reportFile)}
			}
			var keys []report.Key
			var pubs []ed25519.PublicKey
			for _, f := range keyFiles {
				pub, err := evidence.LoadPublicKey(f)
				if err != nil {
					return usageError{fmt.Errorf("--public-key: %w", err)}
				}
				pubs = append(pubs, pub)
				keys = append(keys, report.Key{ID: evidence.KeyID(pub), File: filepath.Base(f)})
			}
			load := loadConfig
			if evidenceOnly {
				load = loadConfigOffline // the source is not asked
			}
			cfg, err := load(cfgPath)
			if err != nil {
				return err
			}
			f, t, err := parseRange(from, to, time.Now())
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, stderr, cfg.Secrets())
			v, _ := versionInfo()
			if len(pubs) > 0 {
				// Only the keys given: the configuration's own signing
				// key is not evidence of who may sign.
				cfg.TrustOnly(pubs...)
			}
			ex, parts, err := cfg.Build(cmd.Context(), exporter.Options{Version: v, Log: log, QuietWindows: true}, io.Discard, false)
			if err != nil {
				return err
			}
			defer func() { _ = parts.Close() }() // verify wrote nothing through them
			checked := time.Now().UTC()
			res, verr := ex.Verify(cmd.Context(), f, t, exporter.VerifyOptions{Repair: repair, EvidenceOnly: evidenceOnly, KeysGiven: len(pubs) > 0, Deep: deep})
			mode := "objects, manifests, seals and the source's current counts"
			if evidenceOnly {
				mode = "objects, manifests and seals only (evidence only: the source was not asked)"
			}
			if deep {
				mode += "; every object downloaded and hashed (--deep)"
			} else {
				mode += "; S3 objects by the checksum S3 keeps of each (add --deep to download and hash them)"
			}
			rep := report.New(res, report.Report{CheckedAt: checked, Version: v, From: f, To: t, Mode: mode, Keys: keys,
				Command: reproduce(cfgPath, f, t, keyFiles, evidenceOnly, deep, reportFile)})
			if reportFile != "" {
				if err := writeReport(reportFile, rep); err != nil {
					return err
				}
			}
			if output == "json" {
				// JSON escapes control characters but not U+202E, DEL or
				// C1 controls: textsafe escapes them too, as JSON escapes.
				var b strings.Builder
				if err := report.WriteJSON(&b, rep); err != nil {
					return err
				}
				if _, err := io.WriteString(stdout, textsafe.Lines(b.String())); err != nil {
					return err
				}
			} else {
				if err := printVerify(stdout, rep); err != nil {
					return err
				}
			}
			if verr != nil {
				return verr
			}
			if wp, dp := res.Problems(); wp > 0 || dp > 0 {
				hint := "run with --repair to export the windows again and seal the days"
				if evidenceOnly {
					hint = "give the report to whoever runs the exporter"
				}
				return notedError{fmt.Errorf("verify: %d of %d windows and %d of %d days do not check out; %s", wp, len(res.Windows), dp, len(res.Days), hint),
					"the output does not check out; running verify again will not change that, the hint above will"}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&from, "from", "", "start of the range (inclusive)")
	cmd.Flags().StringVar(&to, "to", "", "end of the range (exclusive)")
	cmd.Flags().BoolVar(&repair, "repair", false, "append what the windows lack (never replacing a committed object), seal their days, then verify them again")
	cmd.Flags().BoolVar(&evidenceOnly, "evidence-only", false, "check objects, manifests, seals and signatures without asking the source (no API credentials needed)")
	cmd.Flags().BoolVar(&deep, "deep", false, "download and hash every object, also where S3 keeps a checksum of it (catches bytes changed behind S3's API)")
	cmd.Flags().StringArrayVar(&keyFiles, "public-key", nil, "Ed25519 public key (PEM) manifests and seals must be signed with; repeat for rotated keys")
	cmd.Flags().StringVar(&reportFile, "report", "", "also write a self-contained HTML report to this file")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// writeReport writes the HTML report whole (temporary file, rename).
func writeReport(path string, rep report.Report) error {
	var b strings.Builder
	if err := report.WriteHTML(&b, rep); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, []byte(b.String())); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	return nil
}

// reproduce is the command line that checks the same again.
func reproduce(cfg string, from, to time.Time, keys []string, evidenceOnly, deep bool, reportFile string) string {
	args := []string{"auditlog-exporter", "verify", "--config", cfg, "--from", from.UTC().Format(time.RFC3339), "--to", to.UTC().Format(time.RFC3339)}
	if evidenceOnly {
		args = append(args, "--evidence-only")
	}
	if deep {
		args = append(args, "--deep")
	}
	for _, k := range keys {
		args = append(args, "--public-key", k)
	}
	if reportFile != "" {
		args = append(args, "--report", reportFile)
	}
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"$`\\") {
			args[i] = strconv.Quote(a)
		}
	}
	return strings.Join(args, " ")
}

// printVerify prints the report as tables. Every string from stored
// evidence (account, sink, detail, signer) goes through textsafe: a
// manifest cannot forge a row or drive the auditor's terminal.
func printVerify(out io.Writer, rep report.Report) error {
	esc := textsafe.Escape
	var b bytes.Buffer
	w := &b
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW\tACCOUNT\tSINK\tSOURCE\tEXPORTED\tSTATUS\tDETAIL")
	for _, r := range rep.Windows {
		status := string(r.Status)
		if r.Repaired {
			status += " (repaired)"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Start.Format("2006-01-02T15:04Z"), r.End.Format("15:04Z"), esc(r.Account), esc(r.Sink),
			count(r.Source), count(r.Exported), esc(status), esc(r.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tACCOUNT\tSINK\tSEALS\tSIGNED BY\tSTATUS\tDETAIL")
	for _, d := range rep.Days {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", esc(d.Date), esc(d.Account), esc(d.Sink), d.Generations, esc(report.SignedByText(d.SignedBy)), esc(string(d.Status)), esc(d.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d window(s) x sink(s) checked: %s\n", len(rep.Windows), esc(summarize(rep.Summary.WindowStatuses, evidence.WindowStatuses())))
	fmt.Fprintf(w, "%d day(s) x sink(s) checked: %s\n", len(rep.Days), esc(summarize(rep.Summary.DayStatuses, evidence.DayStatuses())))
	for _, n := range rep.NotVerifiable {
		fmt.Fprintf(w, "sink %s: %s\n", esc(n.Sink), esc(n.Reason))
	}
	if len(rep.Keys) > 0 {
		var ids []string
		for _, k := range rep.Keys {
			ids = append(ids, k.ID)
		}
		fmt.Fprintf(w, "signatures checked with: %s\n", esc(strings.Join(ids, ", ")))
	}
	if len(rep.Summary.SignedBy) > 0 {
		fmt.Fprintf(w, "signed by: %s\n", esc(strings.Join(rep.Summary.SignedBy, ", ")))
	}
	_, err := out.Write(b.Bytes())
	return err
}

func summarize(counts map[evidence.Status]int, order []evidence.Status) string {
	var parts []string
	for _, st := range order {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}
