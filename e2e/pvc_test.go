package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// claimMounts mounts both claims of statefulPod, the second read-only.
const claimMounts = `    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: logs, mountPath: /logs, readOnly: true}
`

// statefulPod is a StatefulSet's pod as its controller would make it: two
// claims named <template>-<pod>, one declared by a PersistentVolumeClaim
// document, one not (created on first use).
func statefulPod(initContainers, containers string) string {
	return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data-web-0
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
spec:
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data-web-0}
  - name: logs
    persistentVolumeClaim: {claimName: logs-web-0}
` + initContainers + `  containers:
` + containers
}

// TestPVCDataOutlivesPod: a StatefulSet-shaped pod with two claims writes
// into them, is deleted and applied again, and finds its data; the claim
// nobody declared is made with a ProvisioningSucceeded event; `berth volume
// rm` refuses a claim in use and removes it once the pod is gone.
func TestPVCDataOutlivesPod(t *testing.T) {
	d := startDaemon(t)
	d.apply("web.yaml", statefulPod(`  initContainers:
  - name: seed-logs
    image: berth.test/demo:latest
    command: ["/bin/demo", "write", "/logs/first", "logged"]
    volumeMounts: [{name: logs, mountPath: /logs}]
`, `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "write", "/data/state", "persisted"]
`+claimMounts))
	vols := filepath.Join(d.state, "volumes", "default")
	testutil.WaitFor(t, 10*time.Second, "the app to write into its claim", func() bool {
		b, _ := os.ReadFile(filepath.Join(vols, "data-web-0", "state"))
		return string(b) == "persisted"
	})
	if b, err := os.ReadFile(filepath.Join(vols, "logs-web-0", "first")); err != nil || string(b) != "logged" {
		t.Fatalf("the init container's write into the second claim: %q %v", b, err)
	}
	events := d.mustBerth("get", "events")
	if !strings.Contains(events, "ProvisioningSucceeded") || !strings.Contains(events, "claim default/logs-web-0 (not declared") {
		t.Errorf("no ProvisioningSucceeded event for the undeclared claim:\n%s", events)
	}
	// The test's temporary directory has no project quotas on.
	if !strings.Contains(events, "ClaimSizeNotEnforced") || !strings.Contains(events, "claim default/data-web-0 asks for storage 1Gi") {
		t.Errorf("no ClaimSizeNotEnforced warning for the declared size:\n%s", events)
	}

	ls := d.mustBerth("volume", "ls")
	for _, claim := range []string{"data-web-0", "logs-web-0"} {
		if !strings.Contains(ls, claim) {
			t.Errorf("volume ls lacks %s:\n%s", claim, ls)
		}
	}
	if out, err := d.berth("volume", "rm", "data-web-0"); err == nil || !strings.Contains(out, "used by pod [default/web-0]") {
		t.Errorf("volume rm of a claim in use: %v\n%s", err, out)
	}
	if out := d.mustBerth("volume", "inspect", "data-web-0"); !strings.Contains(out, `"default/web-0"`) {
		t.Errorf("volume inspect does not name the pod using it:\n%s", out)
	}

	d.mustBerth("delete", "pod", "web-0", "--timeout", "30s")
	if _, err := os.Stat(filepath.Join(vols, "data-web-0", "state")); err != nil {
		t.Fatalf("the claim's data went with its pod: %v", err)
	}
	// Applied again, the pod reads what its first incarnation wrote, and
	// its read-only mount of the second claim refuses writes.
	d.apply("web.yaml", statefulPod("", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "read", "/data/state"]
`+claimMounts+`  - name: reader
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "read", "/logs/first"]
`+claimMounts))
	p := d.pod("web-0")
	testutil.WaitFor(t, 10*time.Second, "the new pod to read the old pod's data", func() bool {
		return strings.Contains(d.logOf(p, "app", 0), "persisted")
	})
	testutil.WaitFor(t, 10*time.Second, "the new pod to read the old init container's data", func() bool {
		return strings.Contains(d.logOf(p, "reader", 0), "logged")
	})
	if out, err := d.berth("exec", "web-0", "-c", "reader", "--", "/bin/demo", "write", "/logs/second", "x"); err == nil || !strings.Contains(out, "read-only file system") {
		t.Errorf("a write to the read-only claim mount: %v\n%s", err, out)
	}
	if n := strings.Count(d.mustBerth("get", "events"), "ProvisioningSucceeded"); n != 2 {
		t.Errorf("%d ProvisioningSucceeded events, want 2 (one per claim, none on reuse)", n)
	}

	d.mustBerth("delete", "-f", filepath.Join(d.dir, "web.yaml"), "--timeout", "30s")
	d.mustBerth("volume", "rm", "data-web-0", "logs-web-0")
	for _, claim := range []string{"data-web-0", "logs-web-0"} {
		if _, err := os.Lstat(filepath.Join(vols, claim)); !os.IsNotExist(err) {
			t.Errorf("volume %s after rm: %v", claim, err)
		}
	}
	if ls := d.mustBerth("volume", "ls"); strings.Contains(ls, "web-0") {
		t.Errorf("volume ls after rm:\n%s", ls)
	}
}

// TestPVCReadWriteOncePodAdmitsOnePod: a second pod using a
// ReadWriteOncePod claim does not start while the first holds it.
func TestPVCReadWriteOncePodAdmitsOnePod(t *testing.T) {
	d := startDaemon(t)
	pod := func(name string) string {
		return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: solo}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: data, mountPath: /data}]
`
	}
	d.apply("solo.yaml", `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: solo
spec:
  accessModes: [ReadWriteOncePod]
---
`+pod("first"))
	p := filepath.Join(d.dir, "second.yaml")
	if err := os.WriteFile(p, []byte(pod("second")), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "claim default/solo is ReadWriteOncePod and pod default/first uses it"
	if out, err := d.berth("apply", "-f", p, "--timeout", "30s"); err == nil || !strings.Contains(out, want) || !strings.Contains(out, "ClaimInUse") {
		t.Errorf("apply of the second pod: err %v, output:\n%s\nwant a failure ClaimInUse containing %q", err, out, want)
	}
	if p := d.pod("first"); p.Status.Phase != "Running" {
		t.Errorf("first pod is %s, want Running", p.Status.Phase)
	}
}
