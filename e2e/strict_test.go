package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/internal/testutil"
)

// TestImageProcOrSysSymlinkRefused runs images whose /proc or /sys is a
// symlink to a host directory: the pod does not start, the reason is in
// `berth apply`, `berth describe pod` and the status, and nothing was
// mounted on or written to the host.
func TestImageProcOrSysSymlinkRefused(t *testing.T) {
	d := startDaemon(t)
	s, err := images.Open(filepath.Join(d.state, "images"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"proc", "sys"} {
		t.Run(dir, func(t *testing.T) {
			host := t.TempDir()
			if err := os.WriteFile(filepath.Join(host, "marker"), []byte("host"), 0o644); err != nil {
				t.Fatal(err)
			}
			root := testutil.WorkloadRootfs(t)
			if err := os.Remove(filepath.Join(root, dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(host, filepath.Join(root, dir)); err != nil {
				t.Fatal(err)
			}
			ref := "berth.test/" + dir + "link:latest"
			if _, err := s.ImportRootfs(root, ref); err != nil {
				t.Fatal(err)
			}
			name := dir + "link"
			p := filepath.Join(d.dir, name+".yaml")
			if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: `+name+`
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: `+ref+`
    command: ["/bin/demo", "sleep"]
`), 0o644); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf(`the image's /%s is a symlink to %q, not a plain directory`, dir, host)
			out, err := d.berth("apply", "-f", p, "--timeout", "60s")
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("apply: err %v, want the reason %q in:\n%s", err, want, out)
			}
			squash := regexp.MustCompile(`\s+`)
			var desc string
			testutil.WaitFor(t, 30*time.Second, "describe to give the reason", func() bool {
				desc, _ = d.berth("describe", "pod", name)
				return strings.Contains(squash.ReplaceAllString(desc, " "), want)
			})
			pod := d.pod(name)
			if cs := pod.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Terminated == nil || !strings.Contains(cs[0].State.Terminated.Message, want) {
				t.Errorf("status lacks %q:\n%s", want, toJSON(pod.Status))
			}
			if ents, _ := os.ReadDir(host); len(ents) != 1 || ents[0].Name() != "marker" {
				t.Errorf("the host directory the image's /%s names changed: %v", dir, ents)
			}
			mounts, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mounts), host) {
				t.Errorf("a mount on the host directory the image's /%s names:\n%s", dir, mounts)
			}
			if err := os.Remove(filepath.Join(d.manifests, name+".yaml")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMountUnderProcRefusedByApply: a volumeMount inside /proc is refused
// before anything runs, naming the field.
func TestMountUnderProcRefusedByApply(t *testing.T) {
	d := startDaemon(t)
	p := filepath.Join(d.dir, "procmount.yaml")
	if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: procmount
spec:
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts:
    - {name: v, mountPath: /data}
    - {name: v, mountPath: //proc/sys/kernel/}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.berth("apply", "-f", p)
	if err == nil || !strings.Contains(out, "spec.containers[0].volumeMounts[1].mountPath") || !strings.Contains(out, "inside /proc") {
		t.Errorf("apply of a mount inside /proc: err %v, output:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(d.manifests, "procmount.yaml")); err == nil {
		t.Errorf("the refused manifest was placed in the manifest directory")
	}
}

// TestImageImportRefusesAmbiguousManifest: `berth image import` of an OCI
// layout whose manifest is also an index (CVE-2021-41190) is refused and
// adds nothing to the store.
func TestImageImportRefusesAmbiguousManifest(t *testing.T) {
	d := startDaemon(t)
	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	add := func(name string, body []byte) {
		if err := aw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := aw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(mediaType string, body []byte) map[string]any {
		sum := sha256.Sum256(body)
		add("blobs/sha256/"+hex.EncodeToString(sum[:]), body)
		return map[string]any{"mediaType": mediaType, "digest": "sha256:" + hex.EncodeToString(sum[:]), "size": len(body)}
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(layer.Bytes())
	cfg := mustJSON(map[string]any{"architecture": runtime.GOARCH, "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}}})
	manifest := mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config":    blob("application/vnd.oci.image.config.v1+json", cfg),
		"layers":    []any{blob("application/vnd.oci.image.layer.v1.tar", layer.Bytes())},
		"manifests": []any{},
	})
	md := blob("application/vnd.oci.image.manifest.v1+json", manifest)
	md["annotations"] = map[string]string{"io.containerd.image.name": "berth.test/ambiguous:latest"}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", mustJSON(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{md}}))

	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d.dir, "ambiguous.tar")
	if err := os.WriteFile(p, archive.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.berth("image", "import", p)
	if err == nil || !strings.Contains(out, `image manifest also has an index's "manifests"`) || !strings.Contains(out, "CVE-2021-41190") {
		t.Errorf("import of an ambiguous manifest: err %v, output:\n%s", err, out)
	}
	if ls := d.mustBerth("image", "ls"); strings.Contains(ls, "ambiguous") {
		t.Errorf("the refused image is in the store:\n%s", ls)
	}
}

// TestDevAndSysMountsStillRun: what real manifests mount under /dev and
// /sys keeps working: /dev/shm from a memory emptyDir, and a privileged
// node agent's /dev and /sys/fs/cgroup hostPaths.
func TestDevAndSysMountsStillRun(t *testing.T) {
	d := startDaemon(t)
	d.apply("agent.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: agent
spec:
  volumes:
  - {name: shm, emptyDir: {medium: Memory}}
  - {name: dev, hostPath: {path: /dev}}
  - {name: cgroup, hostPath: {path: /sys/fs/cgroup}}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "write", "/dev/shm/x", "shm"]
    volumeMounts: [{name: shm, mountPath: /dev/shm}]
  - name: agent
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    securityContext: {privileged: true}
    volumeMounts:
    - {name: dev, mountPath: /dev}
    - {name: cgroup, mountPath: /sys/fs/cgroup, readOnly: true}
`)
	if p := d.pod("agent"); p.Status.Phase != "Running" {
		t.Fatalf("pod agent is %s:\n%s", p.Status.Phase, toJSON(p.Status))
	}
}
