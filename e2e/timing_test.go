package e2e

import (
	"strings"
	"testing"
)

// TestStartTimings checks the per-phase start breakdown a user (and
// bench/) reads: the "pod created" log line always, and with
// --timing-events a StartTimings event shown by describe.
func TestStartTimings(t *testing.T) {
	d := startDaemon(t, func(d *daemon) { d.daemonArgs = append(d.daemonArgs, "--timing-events") })
	d.apply("timed.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: timed
spec:
  containers:
  - name: a
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
  - name: b
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	d.pod("timed")
	var line string
	for _, l := range strings.Split(d.logBuf.String(), "\n") {
		if strings.Contains(l, `msg="pod created"`) && strings.Contains(l, "pod=default/timed") {
			line = l
		}
	}
	phases := []string{"parse", "queue", "images", "volumes", "cgroups", "infra", "net_ipam", "net_link", "network", "configs", "containers",
		"ctr_clone", "ctr_runtime", "ctr_cgroups", "ctr_rootfs", "ctr_setup", "ctr_exec"}
	for _, p := range phases {
		if !strings.Contains(line, " "+p+"=") {
			t.Errorf("pod created line lacks %s: %q", p, line)
		}
	}
	out := d.mustBerth("describe", "pod", "timed")
	if !strings.Contains(out, "StartTimings") || !strings.Contains(out, "Started in ") || !strings.Contains(out, "ctr_exec") {
		t.Errorf("describe shows no StartTimings event:\n%s", out)
	}
}
