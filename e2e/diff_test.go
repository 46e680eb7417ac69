package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/api"
)

const diffPod = `apiVersion: v1
kind: Pod
metadata:
  name: diff
  labels: {app: diff}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
    env: [{name: MODE, value: fast}]
    resources:
      limits: {cpu: 500m, memory: 64Mi}
  - name: side
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
`

// diff runs berth diff on yaml written as name and returns its output
// and exit code.
func (d *daemon) diff(name, yaml string, extra ...string) (string, int) {
	d.t.Helper()
	p := filepath.Join(d.dir, "edits", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		d.t.Fatal(err)
	}
	out, err := d.berth(append([]string{"diff", "-f", p}, extra...)...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	d.t.Fatalf("berth diff: %v\n%s", err, out)
	return "", 0
}

// TestDiffAgainstRunningDaemonThenApply previews edits of a running pod
// against the daemon, checks that previewing changes nothing, that the
// container is then restarted in place as the preview says, and that
// without a daemon the preview compares with the manifest directory's
// files.
func TestDiffAgainstRunningDaemonThenApply(t *testing.T) {
	d := startDaemon(t)
	d.apply("diff.yaml", diffPod)
	first := d.pod("diff")
	const daemonHeader = "compared with the pods the running daemon reports\n"
	const inPlace = "pod default/diff: update in place (the pod and its other containers keep running)\n"

	for _, tt := range []struct {
		name, yaml, want string
		code             int
	}{
		{"unchanged", diffPod, "pod default/diff: unchanged\n", 0},
		{"env", strings.Replace(diffPod, "value: fast", "value: slow", 1),
			inPlace + "  restart web: spec.containers[name=web].env[name=MODE]\n", 1},
		{"memory limit", strings.Replace(diffPod, "memory: 64Mi", "memory: 128Mi", 1),
			inPlace + "  resize web live: spec.containers[name=web].resources.limits.memory\n", 1},
		{"volume", strings.Replace(diffPod, "  containers:\n", "  volumes: [{name: v, emptyDir: {}}]\n  containers:\n", 1),
			"pod default/diff: replace (the change reaches the pod)\n  spec.volumes[name=v]\n", 1},
		{"label", strings.Replace(diffPod, "app: diff", "app: diff2", 1),
			"pod default/diff: update (labels changed; nothing restarts)\n  metadata.labels\n", 1},
		{"new pod", strings.Replace(diffPod, "name: diff\n", "name: other\n", 1),
			"pod default/diff: delete (no longer declared in any manifest)\npod default/other: create (declared in diff.yaml)\n", 1},
	} {
		out, code := d.diff("diff.yaml", tt.yaml)
		if out != daemonHeader+tt.want || code != tt.code {
			t.Errorf("%s: berth diff exit %d, printed\n%s\nwant exit %d and\n%s%s", tt.name, code, out, tt.code, daemonHeader, tt.want)
		}
	}

	edited := strings.Replace(diffPod, "value: fast", "value: slow", 1)
	p := filepath.Join(d.dir, "edits", "diff.yaml")
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := d.mustBerth("apply", "--dry-run", "-f", p); out != daemonHeader+inPlace+"  restart web: spec.containers[name=web].env[name=MODE]\n" {
		t.Errorf("apply --dry-run printed\n%s", out)
	}
	if err := api.NewClient(d.sock).Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := d.pod("diff"); got.Metadata.UID != first.Metadata.UID {
		t.Errorf("apply --dry-run replaced the pod (uid %s -> %s)", first.Metadata.UID, got.Metadata.UID)
	}

	d.mustBerth("apply", "-f", p, "--timeout", "60s")
	got := d.pod("diff")
	if got.Metadata.UID != first.Metadata.UID || containerPID(t, got, "side") != containerPID(t, first, "side") {
		t.Errorf("the edit the preview called an update in place replaced the pod or restarted side")
	}
	if web := statusOf(t, got, "web"); web.RestartCount != 1 {
		t.Errorf("web after its env changed: %s, want restarted once", toJSON(web))
	}
	if out, code := d.diff("diff.yaml", edited); code != 0 {
		t.Errorf("after apply: berth diff exit %d, want 0\n%s", code, out)
	}

	d.stop(syscall.SIGTERM)
	out, code := d.diff("diff.yaml", diffPod)
	wantFiles := "compared with the files of " + d.manifests + " (no daemon answers at " + d.sock + ")\n" +
		inPlace + "  restart web: spec.containers[name=web].env[name=MODE]\n"
	if out != wantFiles || code != 1 {
		t.Errorf("without a daemon: exit %d, printed\n%s\nwant exit 1 and\n%s", code, out, wantFiles)
	}
	d.start()
}
