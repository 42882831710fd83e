package deploy

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The kustomizations a user applies (README "Deploy on Kubernetes").
var kustomizations = []string{"kubernetes", "kubernetes/verify", "kubernetes/backfill"}

// build runs `kubectl kustomize dir` (the kustomize library kubectl embeds).
func build(t *testing.T, fsys filesys.FileSystem, dir string) resmap.ResMap {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return m
}

// wantImage is the image the image component names: newName:newTag.
func wantImage(t *testing.T) string {
	t.Helper()
	var c struct {
		Kind   string `json:"kind"`
		Images []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
			NewTag  string `json:"newTag"`
		} `json:"images"`
	}
	b, err := os.ReadFile("kubernetes/image/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Kind != "Component" || len(c.Images) != 1 || c.Images[0].Name != "auditlog-exporter" || c.Images[0].NewName == "" || c.Images[0].NewTag == "" {
		t.Fatalf("image/kustomization.yaml: want a Component rewriting image auditlog-exporter to newName:newTag, got %+v", c)
	}
	return c.Images[0].NewName + ":" + c.Images[0].NewTag
}

// podSpec returns a workload's pod spec as a map, or nil for a kind
// without pods.
func podSpec(obj map[string]any) map[string]any {
	get := func(m map[string]any, path ...string) map[string]any {
		for _, p := range path {
			next, _ := m[p].(map[string]any)
			if next == nil {
				return nil
			}
			m = next
		}
		return m
	}
	switch obj["kind"] {
	case "CronJob":
		return get(obj, "spec", "jobTemplate", "spec", "template", "spec")
	case "Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return get(obj, "spec", "template", "spec")
	case "Pod":
		return get(obj, "spec")
	}
	return nil
}

func isWorkload(kind string) bool {
	return slices.Contains([]string{"CronJob", "Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"}, kind)
}

// TestKustomizeBuild builds every kustomization as `kubectl apply -k`
// would: no Secret holding placeholders is emitted (it would overwrite the
// one created out of band on every apply), every container of every
// workload runs the image the image component names, every workload file
// is reached by one of the kustomizations, and everything lands in the
// namespace.
func TestKustomizeBuild(t *testing.T) {
	image := wantImage(t)
	fsys := filesys.MakeFsOnDisk()
	built := map[string]bool{} // kind/name
	for _, dir := range kustomizations {
		for _, r := range build(t, fsys, dir).Resources() {
			obj, err := r.Map()
			if err != nil {
				t.Fatal(err)
			}
			id := r.GetKind() + "/" + r.GetName()
			built[id] = true
			if r.GetKind() != "Namespace" && r.GetNamespace() != "auditlog-exporter" {
				t.Errorf("%s: %s is in namespace %q, not auditlog-exporter", dir, id, r.GetNamespace())
			}
			if r.GetKind() == "Secret" {
				for _, field := range []string{"stringData", "data"} {
					vals, _ := obj[field].(map[string]any)
					for k, v := range vals {
						s, _ := v.(string)
						if field == "data" {
							b, _ := base64.StdEncoding.DecodeString(s)
							s = string(b)
						}
						if strings.Contains(s, "replace-with") {
							t.Errorf("%s emits Secret %s with the placeholder %s.%s=%q: `kubectl apply -k` would overwrite the real one", dir, r.GetName(), field, k, s)
						}
					}
				}
				if r.GetName() == "neo-auditlog-client" {
					t.Errorf("%s emits Secret neo-auditlog-client: it is created out of band (README), not applied from the repository", dir)
				}
			}
			spec := podSpec(obj)
			if spec == nil {
				continue
			}
			n := 0
			for _, field := range []string{"initContainers", "containers"} {
				cs, _ := spec[field].([]any)
				for _, c := range cs {
					c, _ := c.(map[string]any)
					n++
					if c["image"] != image {
						t.Errorf("%s: %s container %v runs image %v, want %s (images: must rewrite every workload)", dir, id, c["name"], c["image"], image)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s: %s has no containers", dir, id)
			}
		}
	}
	// Every workload in deploy/kubernetes is built by one of the
	// kustomizations, so none escapes the image rewrite.
	err := filepath.WalkDir("kubernetes", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || filepath.Base(p) == "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(b, &meta); err != nil {
			return err
		}
		if isWorkload(meta.Kind) && !built[meta.Kind+"/"+meta.Metadata.Name] {
			t.Errorf("%s (%s %s) is in no kustomization: its image would not be rewritten", p, meta.Kind, meta.Metadata.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CronJob/auditlog-exporter", "CronJob/auditlog-exporter-verify", "Job/auditlog-exporter-backfill"} {
		if !built[want] {
			t.Errorf("no kustomization builds %s", want)
		}
	}
}

// TestKustomizeSecretGenerator: the secretGenerator kustomization.yaml
// shows in a comment, once uncommented with the two files beside it, makes
// the Secret the workloads mount under its fixed name.
func TestKustomizeSecretGenerator(t *testing.T) {
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir("kubernetes", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if p == filepath.Join("kubernetes", "kustomization.yaml") {
			var out []string
			uncomment := false
			for _, line := range strings.Split(string(b), "\n") {
				if line == "# secretGenerator:" {
					uncomment = true
				}
				if uncomment && strings.HasPrefix(line, "# ") {
					line = line[2:]
				} else {
					uncomment = false
				}
				out = append(out, line)
			}
			b = []byte(strings.Join(out, "\n"))
			if !strings.Contains(string(b), "\nsecretGenerator:\n") {
				t.Fatal("kustomization.yaml has no commented secretGenerator")
			}
		}
		return mem.WriteFile("/"+filepath.ToSlash(p), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	mem.WriteFile("/kubernetes/client_id", []byte("the-id"))
	mem.WriteFile("/kubernetes/client_secret", []byte("the-secret"))
	var found bool
	for _, r := range build(t, mem, "/kubernetes").Resources() {
		if r.GetKind() != "Secret" {
			continue
		}
		found = true
		obj, _ := r.Map()
		data, _ := obj["data"].(map[string]any)
		if r.GetName() != "neo-auditlog-client" || data["client_id"] != base64.StdEncoding.EncodeToString([]byte("the-id")) ||
			data["client_secret"] != base64.StdEncoding.EncodeToString([]byte("the-secret")) {
			t.Errorf("generated Secret %s: %v", r.GetName(), obj)
		}
	}
	if !found {
		t.Fatal("the uncommented secretGenerator made no Secret")
	}
	gi, err := os.ReadFile("kubernetes/.gitignore")
	if err != nil || !slices.Contains(strings.Fields(string(gi)), "client_secret") || !slices.Contains(strings.Fields(string(gi)), "client_id") {
		t.Errorf("kubernetes/.gitignore must keep the secretGenerator's files out of git: %q %v", gi, err)
	}
}
