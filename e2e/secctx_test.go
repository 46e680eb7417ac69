package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// TestPodSecurityContextGroups: fsGroup owns the emptyDir and joins every
// process's groups, with supplementalGroups and the image's /etc/group
// memberships (app, uid 1000, is in staff, 50) merged as containerd does,
// also when runAsGroup is set; `berth exec` gets the same groups.
func TestPodSecurityContextGroups(t *testing.T) {
	d := startDaemon(t)
	d.apply("groups.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: groups
spec:
  securityContext:
    runAsUser: 1000
    fsGroup: 2000
    supplementalGroups: [3000]
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: plain
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "write", "/data/f", "hello"]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: withgroup
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    securityContext: {runAsGroup: 4000}
`)
	p := d.pod("groups")
	for _, tc := range []struct{ ctr, gid, groups string }{
		{"plain", "1000", "50 1000 2000 3000"},
		{"withgroup", "4000", "50 2000 3000 4000"},
	} {
		pid := containerPID(t, p, tc.ctr)
		own := idLines(t, pid)
		if !strings.Contains(own, "\nGid: "+tc.gid+" ") || !strings.Contains(own, "\nGroups: "+tc.groups+"\n") {
			t.Errorf("container %s:\n%s\nwant gid %s and groups %s", tc.ctr, own, tc.gid, tc.groups)
		}
		out := d.mustBerth("exec", "groups", "-c", tc.ctr, "--", "/bin/demo", "id")
		if got := strings.TrimSpace(out); got != own {
			t.Errorf("container %s: exec'd process:\n%s\ncontainer:\n%s", tc.ctr, got, own)
		}
	}

	vol := filepath.Join(d.state, "pods", "default_groups", "volumes", "empty-dir", "data")
	var st syscall.Stat_t
	if err := syscall.Stat(vol, &st); err != nil {
		t.Fatal(err)
	}
	if st.Gid != 2000 || st.Mode&0o7777 != 0o2777 {
		t.Errorf("emptyDir: gid %d mode %#o, want gid 2000 mode 02777", st.Gid, st.Mode&0o7777)
	}
	var f syscall.Stat_t
	testutil.WaitFor(t, 10*time.Second, "the container's file", func() bool {
		_, err := os.Stat(filepath.Join(vol, "f"))
		return err == nil
	})
	if err := syscall.Stat(filepath.Join(vol, "f"), &f); err != nil {
		t.Fatal(err)
	}
	if f.Uid != 1000 || f.Gid != 2000 {
		t.Errorf("file written by the container: uid %d gid %d, want 1000 and 2000", f.Uid, f.Gid)
	}
}

// TestPodSysctls: namespaced sysctls are set inside the pod and not on
// the host; both separators work.
func TestPodSysctls(t *testing.T) {
	hostPort := readProcSys(t, "net/ipv4/ip_unprivileged_port_start")
	hostRmid := readProcSys(t, "kernel/shm_rmid_forced")
	rmid := "1"
	if hostRmid == "1" {
		rmid = "0"
	}
	d := startDaemon(t)
	d.apply("sysctls.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: sysctls
spec:
  securityContext:
    sysctls:
    - {name: net/ipv4/ip_unprivileged_port_start, value: "555"}
    - {name: kernel.shm_rmid_forced, value: "`+rmid+`"}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	for path, want := range map[string]string{
		"net/ipv4/ip_unprivileged_port_start": "555",
		"kernel/shm_rmid_forced":              rmid,
	} {
		out := d.mustBerth("exec", "sysctls", "--", "/bin/demo", "read", "/proc/sys/"+path)
		if got := strings.TrimSpace(out); got != want {
			t.Errorf("%s in the pod = %q, want %q", path, got, want)
		}
	}
	if got := readProcSys(t, "net/ipv4/ip_unprivileged_port_start"); got != hostPort {
		t.Errorf("host's ip_unprivileged_port_start changed to %s (was %s)", got, hostPort)
	}
	if got := readProcSys(t, "kernel/shm_rmid_forced"); got != hostRmid {
		t.Errorf("host's shm_rmid_forced changed to %s (was %s)", got, hostRmid)
	}
}

// TestPodSysctlsRefused: sysctls that would reach the host or smuggle a
// second assignment are refused by validate and apply, with the field path.
func TestPodSysctlsRefused(t *testing.T) {
	d := startDaemon(t)
	for _, tc := range []struct{ name, spec, path string }{
		{"trick", `securityContext: {sysctls: [{name: net.core.somaxconn, value: "1+kernel.core_pattern=|/evil"}]}`, "spec.securityContext.sysctls[0].value"},
		{"hostname", `securityContext: {sysctls: [{name: kernel.hostname, value: evil}]}`, "spec.securityContext.sysctls[0].name"},
		{"swappiness", `securityContext: {sysctls: [{name: net.core.somaxconn, value: "1024"}, {name: vm.swappiness, value: "1"}]}`, "spec.securityContext.sysctls[1].name"},
		{"hostnet", "hostNetwork: true\n  securityContext: {sysctls: [{name: net.ipv4.ip_forward, value: \"1\"}]}", "spec.securityContext.sysctls[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(d.dir, "refused-"+tc.name+".yaml")
			if err := os.WriteFile(file, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: refused-`+tc.name+`
spec:
  `+tc.spec+`
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, verb := range []string{"validate", "apply"} {
				args := []string{verb, file}
				if verb == "apply" {
					args = []string{verb, "-f", file}
				}
				out, err := d.berth(args...)
				if err == nil || !strings.Contains(out, tc.path) {
					t.Errorf("berth %s: err %v, output:\n%s\nwant a refusal at %s", verb, err, out, tc.path)
				}
			}
			if _, err := os.Stat(filepath.Join(d.manifests, "refused-"+tc.name+".yaml")); err == nil {
				t.Error("the refused manifest was placed in the manifest directory")
			}
		})
	}
}

func readProcSys(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestPodSysctlFailsStart: a valid name the kernel does not have fails the
// pod's start, and the status says which sysctl.
func TestPodSysctlFailsStart(t *testing.T) {
	d := startDaemon(t)
	file := filepath.Join(d.dir, "nosuch.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: nosuch
spec:
  securityContext:
    sysctls: [{name: net.ipv4.no_such_sysctl, value: "1"}]
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustBerth("apply", "--wait=false", "-f", file)
	testutil.WaitFor(t, 30*time.Second, "the pod's start to fail on its sysctl", func() bool {
		return strings.Contains(d.pod("nosuch").Status.Message, "set sysctl net.ipv4.no_such_sysctl")
	})
	if st := d.pod("nosuch").Status; st.Phase == "Running" {
		t.Errorf("pod runs without its sysctl: %s", toJSON(st))
	}
}
