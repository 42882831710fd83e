package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

// mkfifo makes a FIFO nobody writes to: reading it would wait forever.
func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return path
}

// TestFilesThatNeverEnd points the binary at a FIFO, a device and a 1 GiB
// file wherever it reads a file: each fails at once with exit 2 (fix the
// configuration) and a message naming the file, never hangs or grows.
func TestFilesThatNeverEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	good := w.config("")
	b, _ := os.ReadFile(good)
	mk := func(name, from, to string) string {
		if !strings.Contains(string(b), from) {
			t.Fatalf("%s: config has no %q", name, from)
		}
		p := filepath.Join(w.dir, name+".yaml")
		os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o600)
		return p
	}
	fifo := mkfifo(t, filepath.Join(w.dir, "fifo"))
	big := filepath.Join(w.dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30) // sparse
	f.Close()
	type tc struct {
		name string
		args []string
		msg  string
	}
	cases := []tc{{"config is a FIFO", []string{"run", "--config", fifo}, "not a regular file"},
		{"config is /dev/zero", []string{"run", "--config", "/dev/zero"}, "not a regular file"},
		{"public key is a FIFO", []string{"verify", "--config", good, "--from", "-1h", "--to", "now", "--evidence-only", "--public-key", fifo}, "not a regular file"}}
	for what, p := range map[string]string{"a FIFO": fifo, "/dev/zero": "/dev/zero", "1 GiB": big} {
		cases = append(cases, tc{"client_secret_file is " + what, []string{"run", "--config", mk("secret", "client_secret: ${E2E_SECRET}", "client_secret_file: "+p)}, "source.client_secret_file"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := w.run(nil, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", r.code, c.msg, r.stderr)
			}
		})
	}

	// The state: an account's state file that is a FIFO or a directory,
	// and a state.path that is a file.
	state := filepath.Join(w.dir, "state")
	os.MkdirAll(state, 0o700)
	mkfifo(t, filepath.Join(state, acct+".json"))
	if r := w.run(nil, "run", "--config", good); r.code != 2 || !strings.Contains(r.stderr, "not a regular file") {
		t.Fatalf("state file a FIFO: exit %d\n%s", r.code, r.stderr)
	}
	os.Remove(filepath.Join(state, acct+".json"))
	os.Mkdir(filepath.Join(state, acct+".json"), 0o700)
	if r := w.run(nil, "run", "--config", good); r.code != 2 || !strings.Contains(r.stderr, "a directory") {
		t.Fatalf("state file a directory: exit %d\n%s", r.code, r.stderr)
	}
	os.Remove(filepath.Join(state, acct+".json"))
	statePathFile := mk("statefile", "path: "+w.dir+"/state", "path: "+big)
	if r := w.run(nil, "run", "--config", statePathFile); r.code != 2 || !strings.Contains(r.stderr, "not a directory") {
		t.Fatalf("state.path a file: exit %d\n%s", r.code, r.stderr)
	}

	// verify --evidence-only hashing an object that is a FIFO or a device:
	// it ends at once, naming the object.
	if r := w.run(nil, "run", "--config", good); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	objects, _ := filepath.Glob(filepath.Join(w.dir, "out", "account="+acct, "date=*", "*.jsonl"))
	if len(objects) < 2 {
		t.Fatalf("objects: %v", objects)
	}
	os.Remove(objects[0])
	mkfifo(t, objects[0])
	os.Remove(objects[1])
	os.Symlink("/dev/zero", objects[1])
	r := w.run(nil, "verify", "--config", good, "--from", w.start.Format(time.RFC3339), "--to", "now", "--evidence-only")
	if r.code != 1 || !strings.Contains(r.stderr, "not a regular file") {
		t.Fatalf("verify over a FIFO object: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestSecretInURLIsNotPrinted: a client secret written into api_url
// (user:secret@host, or in the query) is refused without being shown.
func TestSecretInURLIsNotPrinted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	b, _ := os.ReadFile(w.config(""))
	host := strings.TrimPrefix(w.url, "http://")
	for name, u := range map[string]string{
		"userinfo":    "http://e2e-client:" + secret + "@" + host,
		"query":       w.url + "/?client_secret=" + secret,
		"unparseable": "http://e2e-client:" + secret + "@" + host + "/%zz",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(w.dir, name+".yaml")
			os.WriteFile(p, []byte(strings.Replace(string(b), "api_url: "+w.url, "api_url: "+u, 1)), 0o600)
			r := w.run(nil, "run", "--config", p) // w.run fails the test if the secret appears
			if r.code != 2 || !strings.Contains(r.stderr, "source.api_url") {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestVerifyTextCannotBeForged: a manifest whose account and format hold
// terminal escapes, an OSC title, U+202E and a newline is printed by verify
// as escapes, on one row.
func TestVerifyTextCannotBeForged(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	manifests, _ := filepath.Glob(filepath.Join(w.dir, "out", "_manifests", "account="+acct, "date=*", "*.json"))
	if len(manifests) == 0 {
		t.Fatal("no manifests")
	}
	var m map[string]any
	b, _ := os.ReadFile(manifests[0])
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["account"] = acct + "\x1b]0;owned\x07\u202e\n2026-01-01T00:00Z/01:00Z  " + acct + "  FORGED  5  5  ok"
	m["format"] = "jsonl\x1b[2J\x1b[H"
	b, _ = json.Marshal(m)
	os.WriteFile(manifests[0], b, 0o600)
	r := w.run(nil, "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", "now", "--evidence-only")
	if strings.ContainsAny(r.stdout+r.stderr, "\x1b\x07\u202e") {
		t.Fatalf("terminal controls reach the output:\n%q", r.stdout)
	}
	if strings.Contains(r.stdout, "\n2026-01-01T00:00Z") || strings.Contains(r.stdout, "FORGED  5") && !strings.Contains(r.stdout, `\u000a`) {
		t.Fatalf("a forged row:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, `\u001b]0;owned\u0007\u202e\u000a`) {
		t.Fatalf("the stored text is not shown as escapes:\n%s", r.stdout)
	}
	// The JSON output stays JSON, with the same text, and sends no
	// bidirectional or other control characters either.
	r = w.run(nil, "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", "now", "--evidence-only", "--output", "json")
	if strings.ContainsAny(r.stdout, "\x1b\x07\u202e") || !json.Valid([]byte(r.stdout)) || !strings.Contains(r.stdout, `\u202e`) {
		t.Fatalf("verify --output json:\n%q", r.stdout)
	}
}

// TestNetHTTPLogIsScrubbed: a server that sends bytes after its responses
// (echoing the request's Authorization header, as a broken proxy might)
// makes net/http's transport log them; the line reaches stderr as one JSON
// log event, without the credentials.
func TestNetHTTPLogIsScrubbed(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	sim := neosim.New(neosim.Options{Accounts: []string{acct}, ClientID: "e2e-client", ClientSecret: secret, Seed: 11, PageSize: 200})
	recs, vis := neosim.Generate(neosim.GenOptions{Account: acct, From: now.Add(-3 * time.Hour), To: now, PerHour: 900, Seed: 12})
	sim.Add(vis, recs...)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		conn, buf, err := rw.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		res := rec.Result()
		body := rec.Body.Bytes()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", res.StatusCode, http.StatusText(res.StatusCode))
		res.Header.Set("Content-Length", fmt.Sprint(len(body)))
		res.Header.Write(buf)
		buf.WriteString("\r\n")
		buf.Write(body)
		// The unsolicited part, in the same write as the response.
		fmt.Fprintf(buf, "Authorization: %s\r\n\x1b]0;title\x07\r\n", r.Header.Get("Authorization"))
		buf.Flush()
		// Wait for the client to close the connection.
		bufio.NewReader(conn).ReadByte()
	}))
	t.Cleanup(srv.Close)
	w := &world{t: t, sim: sim, url: srv.URL, dir: t.TempDir(), start: now.Add(-2 * time.Hour).Truncate(30 * time.Minute)}
	r := w.run(nil, "run", "--config", w.config("")) // fails the test on the secret or a token
	if strings.Contains(r.stderr, "\x1b") {
		t.Fatalf("terminal escapes on stderr")
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(line, "auditlog-exporter: ") || strings.HasPrefix(line, "(exit") {
			continue // the final error, if the run failed
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("a stderr line is not a JSON log event: %q", line)
		}
		if msg, _ := ev["message"].(string); strings.Contains(msg, "Unsolicited response") {
			seen++
			if !strings.Contains(msg, "[REDACTED]") {
				t.Fatalf("not scrubbed: %q", msg)
			}
		}
	}
	t.Logf("exit %d; %d lines of net/http routed through the scrubber", r.code, seen)
	if seen == 0 {
		t.Fatalf("net/http logged nothing: the test did not provoke the log line\n%s", r.stderr)
	}
}

// TestRepeatedConfigKeys: a configuration with 2,000 repeated keys is exit
// 2 with the capped list of problems, not millions of lines.
func TestRepeatedConfigKeys(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	b, _ := os.ReadFile(w.config(""))
	p := filepath.Join(w.dir, "repeated.yaml")
	os.WriteFile(p, append(b, []byte("  level: info\n"+strings.Repeat("  format: json\n", 2000))...), 0o600)
	r := w.run(nil, "run", "--config", p)
	if r.code != 2 || !strings.Contains(r.stderr, "log.format: given again on line") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "\n"); n > 60 {
		t.Fatalf("%d lines of errors", n)
	}
}

// TestHostilePagesWithinSizing: with every page as large as the default
// source.max_page_bytes allows, in the shapes that cost most, a backfill
// at --parallel 8 stays within the README's sizing rule: 40 MiB + (15 MiB
// + 2.5 x max_page_bytes) x windows in flight (BENCHMARKS.md has the
// measured figures).
func TestHostilePagesWithinSizing(t *testing.T) {
	t.Parallel()
	const windows = 8
	limit := 40 + windows*(15+2.5*float64(odata.DefaultMaxPageBytes>>20))
	to := time.Now().UTC().Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-windows * time.Hour)
	for _, shape := range []string{"padding", "one-message", "1000-messages"} {
		t.Run(shape, func(t *testing.T) {
			srv := httptest.NewServer(hostilePages(shape, odata.DefaultMaxPageBytes))
			defer srv.Close()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`source:
  api_url: %s
  account: benchacct
  client_id: bench
  client_secret: ${E2E_SECRET}
export:
  spool_dir: %[2]s
state:
  path: %[2]s/state
sinks:
  - type: file
    format: parquet
    path: %[2]s/out
`, srv.URL, dir)), 0o600)
			cmd := exec.Command(binary, "backfill", "--config", cfg, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", strconv.Itoa(windows))
			cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
			stderr, rss, err := runMeasured(cmd)
			if err != nil || !strings.Contains(stderr, fmt.Sprintf(`"windows":%d,`, windows)) {
				t.Fatalf("%v\n%s", err, stderr)
			}
			t.Logf("peak RSS %.0f MiB (the sizing rule: %.0f MiB)", rss, limit)
			if rss > limit {
				t.Fatalf("peak RSS %.0f MiB with hostile pages, above the README's sizing of %.0f MiB", rss, limit)
			}
		})
	}
}
