package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
)

// TestTerminationMessages: what a container writes to its
// terminationMessagePath (the default /dev/termination-log, or its own
// path, also as a non-root user) becomes its terminated state's message,
// cut to 4 KiB; under FallbackToLogsOnError a failed container that wrote
// nothing gets the tail of its log, under File it gets nothing. After a
// restart the message is the last state's.
func TestTerminationMessages(t *testing.T) {
	d := startDaemon(t)
	long := strings.Repeat("x", 5000)
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: term
spec:
  restartPolicy: Never
  containers:
  - name: default-path
    image: berth.test/demo:latest
    command: ["/bin/demo", "write", "/dev/termination-log", "all done"]
    securityContext:
      runAsUser: 1000
  - name: own-path
    image: berth.test/demo:latest
    command: ["/bin/demo", "write", "/var/msg/here", "custom path"]
    terminationMessagePath: /var/msg/here
  - name: fallback
    image: berth.test/demo:latest
    command: ["/bin/demo", "read", "/missing"]
    terminationMessagePolicy: FallbackToLogsOnError
  - name: file-only
    image: berth.test/demo:latest
    command: ["/bin/demo", "read", "/missing"]
  - name: long
    image: berth.test/demo:latest
    command: ["/bin/demo", "write", "/dev/termination-log", "` + long + `"]
---
apiVersion: v1
kind: Pod
metadata:
  name: term-restart
spec:
  containers:
  - name: fallback
    image: berth.test/demo:latest
    command: ["/bin/demo", "read", "/missing"]
    terminationMessagePolicy: FallbackToLogsOnError
`
	// Written beside the directory and renamed in: apply would report the
	// failing containers as a failed apply.
	tmp := filepath.Join(d.dir, "term.yaml")
	if err := os.WriteFile(tmp, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.manifests, "term.yaml")); err != nil {
		t.Fatal(err)
	}
	// Both pods come from one file, so neither exists before the first
	// pass that reads it.
	find := func(name string) api.Pod {
		for _, p := range d.pods() {
			if p.Metadata.Name == name {
				return p
			}
		}
		return api.Pod{}
	}
	var p api.Pod
	testutil.WaitFor(t, 60*time.Second, "every container of pod term terminated", func() bool {
		p = find("term")
		if len(p.Status.ContainerStatuses) != 5 {
			return false
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Terminated == nil {
				return false
			}
		}
		return true
	})
	got := map[string]*kube.StateTerminated{}
	for _, c := range p.Status.ContainerStatuses {
		got[c.Name] = c.State.Terminated
	}
	for name, want := range map[string]string{
		"default-path": "all done",
		"own-path":     "custom path",
		"file-only":    "",
		"long":         long[:4096],
	} {
		if got[name].Message != want {
			t.Errorf("container %s (exit %d): message %q, want %q", name, got[name].ExitCode, clipText(got[name].Message), clipText(want))
		}
	}
	if f := got["fallback"]; f.ExitCode == 0 || !strings.Contains(f.Message, "demo: open /missing") {
		t.Errorf("container fallback (exit %d): message %q, want the tail of its log", f.ExitCode, f.Message)
	}
	if got["default-path"].ExitCode != 0 {
		t.Errorf("container default-path exited %d: the non-root user could not write its message", got["default-path"].ExitCode)
	}
	if out := d.mustBerth("describe", "pod", "term"); !strings.Contains(out, "all done") || !strings.Contains(out, "demo: open /missing") {
		t.Errorf("describe lacks the termination messages:\n%s", out)
	}

	var last *kube.StateTerminated
	testutil.WaitFor(t, 60*time.Second, "a restart of pod term-restart", func() bool {
		cs := find("term-restart").Status.ContainerStatuses
		if len(cs) != 1 || cs[0].RestartCount < 1 {
			return false
		}
		last = cs[0].LastState.Terminated
		return true
	})
	if last == nil || !strings.Contains(last.Message, "demo: open /missing") {
		t.Errorf("after a restart: last state %+v, want the failed run's log tail as its message", last)
	}
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
