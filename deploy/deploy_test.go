// Package deploy holds the container and Kubernetes packaging; its tests
// prove what can be proven without a container engine or a cluster.
package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/metrics"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

type stage struct {
	from  string
	insts []*parser.Node
}

func dockerfileStages(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("BuildKit cannot parse the Dockerfile: %v", err)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			stages = append(stages, stage{from: n.Next.Value})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("instruction %q before FROM", n.Original)
		}
		stages[len(stages)-1].insts = append(stages[len(stages)-1].insts, n)
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := dockerfileStages(t)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	for _, s := range stages {
		img := s.from
		if img == "scratch" {
			continue
		}
		if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") || strings.Contains(img, "${") {
			t.Errorf("base image %q is not pinned to a version", img)
		}
	}
	build, final := stages[0], stages[len(stages)-1]
	var buildCmd string
	for _, n := range build.insts {
		if strings.EqualFold(n.Value, "run") {
			buildCmd += n.Original + "\n"
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/auditlog-exporter"} {
		if !strings.Contains(buildCmd, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	// The same files as make image (scripts/build-image.sh): the rootfs
	// script lays them out, the final stage copies them onto scratch.
	if !strings.Contains(buildCmd, "scripts/rootfs.sh /rootfs ") {
		t.Errorf("build stage does not lay out the image with scripts/rootfs.sh")
	}
	if final.from != "scratch" {
		t.Errorf("final stage from %q: want scratch (the files of scripts/rootfs.sh, nothing else)", final.from)
	}
	copied := false
	for _, n := range final.insts {
		if strings.EqualFold(n.Value, "copy") && strings.Contains(n.Original, "--from=build /rootfs/ /") {
			copied = true
		}
	}
	if !copied {
		t.Errorf("final stage does not copy the build stage's /rootfs/")
	}
	var user, entrypoint string
	for _, n := range final.insts {
		switch strings.ToLower(n.Value) {
		case "run", "shell":
			t.Errorf("final stage runs a shell: %s", n.Original)
		case "user":
			user = n.Next.Value
		case "entrypoint":
			if !n.Attributes["json"] {
				t.Errorf("ENTRYPOINT must be exec form (no shell): %s", n.Original)
			}
			entrypoint = n.Next.Value
		}
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") || strings.Trim(user, "0123456789:") != "" {
		t.Errorf("final stage USER %q: want a numeric non-root user", user)
	}
	if entrypoint != "/usr/local/bin/auditlog-exporter" {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "demo-out/", "bin/"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

func decodeStrict(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func checkPod(t *testing.T, name string, spec corev1.PodSpec, container string) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext must set runAsNonRoot and seccomp RuntimeDefault", name)
	}
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy must be Never (podFailurePolicy needs it)", name)
	}
	if spec.ServiceAccountName != "auditlog-exporter" {
		t.Errorf("%s: serviceAccountName %q", name, spec.ServiceAccountName)
	}
	if len(spec.Containers) != 1 || spec.Containers[0].Name != container {
		t.Fatalf("%s: want one container %q", name, container)
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: container securityContext must be read-only, without privilege escalation, dropping ALL capabilities", name)
	}
	mem := c.Resources.Limits.Memory()
	req := c.Resources.Requests.Memory()
	// The measured peak RSS is 102 MiB for one 1,000,000-record window.
	if mem.IsZero() || req.IsZero() || mem.Value() < 150<<20 || req.Value() > mem.Value() {
		t.Errorf("%s: memory request %v / limit %v do not fit the measured peak of about 102 MiB", name, req, mem)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	var secretVol *corev1.SecretVolumeSource
	for _, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "neo-auditlog-client" {
			secretVol = v.Secret
			if mounts[v.Name] != "/var/run/secrets/neo" {
				t.Errorf("%s: the client secret must be mounted at /var/run/secrets/neo", name)
			}
		}
		if v.EmptyDir != nil && mounts[v.Name] != "/tmp" {
			t.Errorf("%s: the emptyDir must be /tmp (spool and temporary files on a read-only root)", name)
		}
	}
	if secretVol == nil || len(secretVol.Items) != 1 || secretVol.Items[0].Path != "client_secret" {
		t.Errorf("%s: the client secret must be a file client_secret from Secret neo-auditlog-client", name)
	}
	for _, e := range c.Env {
		if e.Value != "" && (strings.Contains(strings.ToLower(e.Name), "secret") || strings.Contains(strings.ToLower(e.Name), "password")) {
			t.Errorf("%s: secret %s in plain env", name, e.Name)
		}
	}
}

func checkFailurePolicy(t *testing.T, name string, p *batchv1.PodFailurePolicy, container string) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: no podFailurePolicy", name)
	}
	for _, r := range p.Rules {
		if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil && r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn &&
			slices.Contains(r.OnExitCodes.Values, 2) && slices.Contains(r.OnExitCodes.Values, 3) &&
			r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName == container {
			return
		}
	}
	t.Errorf("%s: podFailurePolicy must fail the Job at once on exit codes 2 and 3", name)
}

func TestCronJob(t *testing.T) {
	var cj batchv1.CronJob
	decodeStrict(t, "kubernetes/cronjob.yaml", &cj)
	if _, err := cron.ParseStandard(cj.Spec.Schedule); err != nil {
		t.Fatalf("schedule %q: %v", cj.Spec.Schedule, err)
	}
	s := cj.Spec
	if s.ConcurrencyPolicy != batchv1.ForbidConcurrent || s.StartingDeadlineSeconds == nil {
		t.Errorf("want concurrencyPolicy Forbid and startingDeadlineSeconds")
	}
	js := s.JobTemplate.Spec
	if js.BackoffLimit == nil || js.ActiveDeadlineSeconds == nil {
		t.Errorf("want backoffLimit and activeDeadlineSeconds")
	}
	checkFailurePolicy(t, "cronjob", js.PodFailurePolicy, "auditlog-exporter")
	checkPod(t, "cronjob", js.Template.Spec, "auditlog-exporter")
	if args := js.Template.Spec.Containers[0].Args; !slices.Equal(args[:3], []string{"run", "--config", "/etc/auditlog-exporter/config.yaml"}) {
		t.Errorf("args %v", args)
	}
}

func TestVerifyCronJob(t *testing.T) {
	var cj batchv1.CronJob
	decodeStrict(t, "kubernetes/verify/verify-cronjob.yaml", &cj)
	if _, err := cron.ParseStandard(cj.Spec.Schedule); err != nil {
		t.Fatalf("schedule %q: %v", cj.Spec.Schedule, err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Error("want concurrencyPolicy Forbid")
	}
	js := cj.Spec.JobTemplate.Spec
	checkFailurePolicy(t, "verify", js.PodFailurePolicy, "verify")
	checkPod(t, "verify", js.Template.Spec, "verify")
	args := js.Template.Spec.Containers[0].Args
	if args[0] != "verify" || !slices.Contains(args, "--repair") {
		t.Errorf("args %v", args)
	}
}

func TestBackfillIndexedJob(t *testing.T) {
	var job batchv1.Job
	decodeStrict(t, "kubernetes/backfill/backfill-job.yaml", &job)
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.Completions == nil || s.Parallelism == nil {
		t.Fatal("want an Indexed Job with completions and parallelism")
	}
	args := s.Template.Spec.Containers[0].Args
	i := slices.Index(args, "--shards")
	if args[0] != "backfill" || i < 0 || args[i+1] != "8" || *s.Completions != 8 {
		t.Errorf("backfill args %v must shard over the %d completions", args, *s.Completions)
	}
	checkFailurePolicy(t, "backfill", s.PodFailurePolicy, "backfill")
	checkPod(t, "backfill", s.Template.Spec, "backfill")
}

func TestConfigMapSecretServiceAccount(t *testing.T) {
	var cm corev1.ConfigMap
	decodeStrict(t, "kubernetes/configmap.yaml", &cm)
	secretFile := filepath.Join(t.TempDir(), "client_secret")
	os.WriteFile(secretFile, []byte("s\n"), 0o600)
	cfgText := strings.ReplaceAll(cm.Data["config.yaml"], "/var/run/secrets/neo/client_secret", secretFile)
	cfg, err := config.Parse([]byte(cfgText), func(k string) (string, bool) { return "id", k == "NEO_CLIENT_ID" })
	if err == nil {
		err = cfg.Resolve()
	}
	if err != nil {
		t.Fatalf("the ConfigMap's config.yaml does not load: %v", err)
	}
	if cfg.State.Type != "s3" {
		t.Errorf("pods are ephemeral: the state must be in S3, not %s", cfg.State.Type)
	}
	var sec corev1.Secret
	decodeStrict(t, "kubernetes/secret.example.yaml", &sec)
	for _, k := range []string{"client_id", "client_secret"} {
		if !strings.HasPrefix(sec.StringData[k], "replace-with-") {
			t.Errorf("secret.example.yaml must hold placeholders only, found a value for %s", k)
		}
	}
	var sa corev1.ServiceAccount
	decodeStrict(t, "kubernetes/serviceaccount.yaml", &sa)
	if !strings.HasPrefix(sa.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::") {
		t.Error("the ServiceAccount must show the IRSA role annotation")
	}
	var ns corev1.Namespace
	decodeStrict(t, "kubernetes/namespace.yaml", &ns)
	var k struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Namespace  string           `json:"namespace"`
		Resources  []string         `json:"resources"`
		Labels     []map[string]any `json:"labels"`
		Components []string         `json:"components"`
	}
	decodeStrict(t, "kubernetes/kustomization.yaml", &k)
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("kubernetes", r)); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
		}
	}
	if slices.Contains(k.Resources, "backfill") || slices.Contains(k.Resources, "secret.example.yaml") {
		t.Error("the backfill Job must not start, nor the example Secret overwrite the real one, with every `kubectl apply -k`")
	}
}

// Every alert expression uses metrics the exporter exposes.
func TestAlertRules(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	decodeStrict(t, "prometheus/alerts.yaml", &rules)
	m := metrics.New()
	m.RunFinished(0, true)
	m.RetentionHeadroom("a", 0)
	m.WindowExported("a", 0, source.Stats{})
	var buf bytes.Buffer
	families, _ := m.Registry().Gather()
	for _, f := range families {
		buf.WriteString(f.GetName() + "\n")
	}
	known := buf.String() + "auditlog_exporter_records_exported_total\nauditlog_exporter_windows_exported_total\nauditlog_exporter_watermark_timestamp_seconds\nauditlog_exporter_request_retries_total\nauditlog_exporter_failures_total\n"
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			found := false
			for _, w := range strings.FieldsFunc(r.Expr, func(c rune) bool { return !(c == '_' || c >= 'a' && c <= 'z') }) {
				if strings.HasPrefix(w, "auditlog_exporter_") {
					found = true
					if !strings.Contains(known, w+"\n") {
						t.Errorf("alert %s uses unknown metric %s", r.Alert, w)
					}
				}
			}
			if !found || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: no exporter metric or no summary", r.Alert)
			}
		}
	}
	if n < 3 {
		t.Fatalf("%d alerts", n)
	}
}
