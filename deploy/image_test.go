package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/internal/testtool"
)

// need skips the test when a tool is missing, except in CI, where a
// skipped test would hide that the image was never built.
func need(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	testtool.Missing(t, what)
}

// TestImage builds the image as `make image` does (buildah, FROM scratch,
// offline), mounts it and runs `version` and `demo` from it as user 65532,
// the way a runtime would: /proc and /dev mounted, no writable path but
// /tmp.
func TestImage(t *testing.T) {
	_, err := exec.LookPath("buildah")
	need(t, "buildah is not installed (Debian: apt-get install buildah)", err == nil)
	need(t, "the image test mounts and chroots: it must run as root", os.Geteuid() == 0)

	store := t.TempDir()
	bh := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("buildah", append([]string{"--storage-driver", "vfs", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run")}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("buildah %v: %v\n%s", args, err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	build := exec.Command("../scripts/build-image.sh", "auditlog-exporter:image-test")
	build.Env = append(os.Environ(), "BUILDAH_ROOT="+store, "VERSION=image-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}

	var inspect struct {
		OCIv1 struct {
			Config struct {
				User       string
				Entrypoint []string
				WorkingDir string
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(bh("inspect", "--type", "image", "auditlog-exporter:image-test")), &inspect); err != nil {
		t.Fatal(err)
	}
	if c := inspect.OCIv1.Config; c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/auditlog-exporter" {
		t.Fatalf("image config: user %q, entrypoint %v", c.User, c.Entrypoint)
	}

	ctr := bh("from", "auditlog-exporter:image-test")
	t.Cleanup(func() { bh("rm", ctr) })
	root := bh("mount", ctr)
	t.Cleanup(func() { bh("umount", ctr) })
	for _, m := range [][]string{{"-t", "proc", "proc", filepath.Join(root, "proc")}, {"--bind", "/dev", filepath.Join(root, "dev")}} {
		if out, err := exec.Command("mount", m...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v\n%s", m, err, out)
		}
		target := m[len(m)-1]
		t.Cleanup(func() { _ = exec.Command("umount", target).Run() })
	}
	// What is in the image: the binary, the CA bundle, passwd and group,
	// and empty directories; no shell.
	var files []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if rel == "proc" || rel == "dev" {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	want := []string{"etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "usr/local/bin/auditlog-exporter"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("files in the image: %v, want %v", files, want)
	}

	run := func(args ...string) (string, error) {
		cmd := exec.Command("chroot", append([]string{"--userspec=65532:65532", root, "/usr/local/bin/auditlog-exporter"}, args...)...)
		cmd.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"} // the image's environment only
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("version")
	if err != nil || !strings.Contains(out, "auditlog-exporter image-test") {
		t.Fatalf("version from the image: %v\n%s", err, out)
	}
	out, err = run("demo", "--out", "/tmp/demo")
	if err != nil || !strings.Contains(out, "verify") {
		t.Fatalf("demo from the image: %v\n%s", err, out)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "tmp/demo/jsonl/account=demoacct/date=*/*.jsonl")); len(m) == 0 {
		t.Fatalf("the demo wrote no JSON lines under /tmp/demo:\n%s", out)
	}
	// Nothing but /tmp is writable by the user.
	if out, err := run("demo", "--out", "/demo"); err == nil {
		t.Fatalf("the demo could write outside /tmp:\n%s", out)
	}
}
