package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/internal/testutil"
)

func TestHostileManifestsAreRejectedOrContained(t *testing.T) {
	d := startDaemon(t)

	// A subPath that climbs out of its volume is refused before anything runs.
	p := filepath.Join(d.dir, "escape.yaml")
	os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: escape
spec:
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: v, mountPath: /data, subPath: ../../../etc}]
`), 0o644)
	out, err := d.berth("apply", "-f", p)
	if err == nil || !strings.Contains(out, "spec.containers[0].volumeMounts[0].subPath") {
		t.Errorf("apply of a subPath escape: err %v, output:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(d.manifests, "escape.yaml")); err == nil {
		t.Errorf("the refused manifest was placed in the manifest directory")
	}

	// An image whose /etc is an absolute symlink out of the rootfs: mounts
	// onto /etc/... must land inside the rootfs, never on the host.
	if _, err := os.Stat("/host"); err == nil {
		t.Skip("this host has a /host directory; the containment check needs it absent")
	}
	root := testutil.WorkloadRootfs(t)
	os.RemoveAll(filepath.Join(root, "etc"))
	if err := os.Symlink("/host/etc", filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	s, err := images.Open(filepath.Join(d.state, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportRootfs(root, "berth.test/evil:latest"); err != nil {
		t.Fatal(err)
	}
	d.apply("evil.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: evil
spec:
  volumes: [{name: cfg, emptyDir: {}}]
  containers:
  - name: main
    image: berth.test/evil:latest
    command: ["/bin/demo", "--then-sleep", "write", "/etc/config/x", "inside"]
    volumeMounts: [{name: cfg, mountPath: /etc/config}]
`)
	if _, err := os.Stat("/host"); err == nil {
		os.RemoveAll("/host")
		t.Fatalf("a mount target in the image escaped to the host: /host was created")
	}
}
