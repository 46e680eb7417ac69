package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/infra"
)

// TestOOMScoreAdjFollowsQoS: as the kubelet, berth gives each container an
// oom_score_adj from its pod's QoS class (and a Burstable one's memory
// request), which `berth exec` commands get too, and the infra -998. A
// host without CAP_SYS_RESOURCE cannot lower a value: the negative ones
// then stay the daemon's.
func TestOOMScoreAdjFollowsQoS(t *testing.T) {
	d := startDaemon(t)
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	capacity := int64(si.Totalram) * int64(si.Unit)
	const request = 256 << 20
	pod := func(name, resources string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    resources: %s
`, name, resources)
	}
	d.apply("qos.yaml", pod("guaranteed", "{limits: {cpu: 100m, memory: 64Mi}}")+"---\n"+
		pod("burstable", fmt.Sprintf("{requests: {memory: %d}}", request))+"---\n"+
		pod("besteffort", "{}"))

	daemonAdj := readOOMScoreAdj(t, fmt.Sprintf("/proc/%d/oom_score_adj", d.cmd.Process.Pid))
	lowered := func(adj int) int {
		if adj < daemonAdj && !hasSysResource(t) {
			return daemonAdj
		}
		return adj
	}
	burstable := cgroups.OOMScoreAdj(cgroups.QOSBurstable, cgroups.Container{Requests: cgroups.Quantities{MemoryBytes: request}}, capacity)
	for _, tc := range []struct {
		pod  string
		want int
	}{
		{"guaranteed", lowered(-997)},
		{"burstable", burstable},
		{"besteffort", 1000},
	} {
		for _, file := range []string{"/proc/1/oom_score_adj", "/proc/self/oom_score_adj"} {
			out := d.mustBerth("exec", tc.pod, "--", "/bin/demo", "read", file)
			if got, err := strconv.Atoi(strings.TrimSpace(out)); err != nil || got != tc.want {
				t.Errorf("pod %s: %s = %q, want %d", tc.pod, file, out, tc.want)
			}
		}
		infraPath := fmt.Sprintf("/proc/%d/oom_score_adj", d.pod(tc.pod).InfraPID())
		if got, want := readOOMScoreAdj(t, infraPath), lowered(infra.OOMScoreAdj); got != want {
			t.Errorf("pod %s: infra oom_score_adj %d, want %d", tc.pod, got, want)
		}
	}
}

func readOOMScoreAdj(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// hasSysResource reports whether this process (and so the daemon it
// starts) has CAP_SYS_RESOURCE.
func hasSysResource(t *testing.T) bool {
	t.Helper()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
}
