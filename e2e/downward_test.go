package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

// inContainer reads path as container ctr of pod name sees it, through
// its process's root on the host; "" when it cannot be read.
func (d *daemon) inContainer(name, ctr, path string) string {
	d.t.Helper()
	pid := containerPID(d.t, d.runningPod(name), ctr)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", pid, path))
	if err != nil {
		return ""
	}
	return string(b)
}

// sharedMount creates dir and makes it a shared bind mount of itself,
// unmounted when the test ends: what HostToContainer propagation needs of
// a volume's source, as on a systemd host, where every mount is shared.
func sharedMount(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
}

// TestDownwardAPILabelsFollowEdits: as with the kubelet, a label edit
// reaches a running pod's downwardAPI files (a plain volume and a projected
// one) without restarting anything.
func TestDownwardAPILabelsFollowEdits(t *testing.T) {
	d := startDaemon(t)
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: info
  labels: {app: web, version: "%s"}
  annotations: {example.com/build: "%s"}
spec:
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: version, fieldRef: {fieldPath: "metadata.labels['version']"}}
      - {path: uid, fieldRef: {fieldPath: metadata.uid}}
  - name: merged
    projected:
      sources:
      - downwardAPI:
          items: [{path: meta/labels, fieldRef: {fieldPath: metadata.labels}}]
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: merged, mountPath: /etc/merged}
`
	d.apply("info.yaml", fmt.Sprintf(pod, "1", "a"))
	first := d.runningPod("info")
	pid := containerPID(t, first, "app")
	want := map[string]string{
		"/etc/podinfo/labels":      "app=\"web\"\nversion=\"1\"",
		"/etc/podinfo/annotations": `example.com/build="a"`,
		"/etc/podinfo/version":     "1",
		"/etc/podinfo/uid":         first.Metadata.UID,
		"/etc/merged/meta/labels":  "app=\"web\"\nversion=\"1\"",
	}
	for path, w := range want {
		if got := d.inContainer("info", "app", path); got != w {
			t.Errorf("%s = %q, want %q", path, got, w)
		}
	}

	d.apply("info.yaml", fmt.Sprintf(pod, "2", "b"))
	testutil.WaitFor(t, 30*time.Second, "the label edit in the downwardAPI files", func() bool {
		return d.inContainer("info", "app", "/etc/podinfo/labels") == "app=\"web\"\nversion=\"2\"" &&
			d.inContainer("info", "app", "/etc/merged/meta/labels") == "app=\"web\"\nversion=\"2\"" &&
			d.inContainer("info", "app", "/etc/podinfo/annotations") == `example.com/build="b"` &&
			d.inContainer("info", "app", "/etc/podinfo/version") == "2"
	})
	after := d.runningPod("info")
	if after.Metadata.UID != first.Metadata.UID || containerPID(t, after, "app") != pid {
		t.Errorf("the label edit restarted the pod: uid %s -> %s, container pid %d -> %d",
			first.Metadata.UID, after.Metadata.UID, pid, containerPID(t, after, "app"))
	}
	if n := after.Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Errorf("restartCount = %d after a label edit", n)
	}
}

// TestProjectedVolumeCombinesSources: one projected volume holds a
// ConfigMap's key, a Secret's key and the pod's name, with the volume's
// defaultMode and an item's own mode.
func TestProjectedVolumeCombinesSources(t *testing.T) {
	d := startDaemon(t)
	d.apply("proj.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: proj-config}
data: {app.conf: "level=debug"}
---
apiVersion: v1
kind: Secret
metadata: {name: proj-secret}
stringData: {token: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: proj}
spec:
  volumes:
  - name: all
    projected:
      defaultMode: 0440
      sources:
      - configMap: {name: proj-config, items: [{key: app.conf, path: config/app.conf}]}
      - secret: {name: proj-secret, items: [{key: token, path: token, mode: 0400}]}
      - downwardAPI:
          items: [{path: name, fieldRef: {fieldPath: metadata.name}}]
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: all, mountPath: /projected}]
`)
	want := map[string]string{"/projected/config/app.conf": "level=debug", "/projected/token": "s3cret", "/projected/name": "proj"}
	for path, w := range want {
		if got := d.inContainer("proj", "app", path); got != w {
			t.Errorf("%s = %q, want %q", path, got, w)
		}
	}
	pid := containerPID(t, d.runningPod("proj"), "app")
	for path, mode := range map[string]os.FileMode{"/projected/token": 0o400, "/projected/name": 0o440} {
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode(), err, mode)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(fmt.Sprintf("/proc/%d/root/projected", pid), &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Errorf("projected volume: fs type %#x, %v; want a tmpfs, as it holds a secret", st.Type, err)
	}
}

// TestDownwardResourceFieldRefEnv: resourceFieldRef in env, with the
// divisors 1Mi and 1m, a request, and a missing limit read as the node's
// allocatable CPUs; the pod also says spec.os linux.
func TestDownwardResourceFieldRefEnv(t *testing.T) {
	d := startDaemon(t)
	d.apply("res.yaml", `apiVersion: v1
kind: Pod
metadata: {name: res}
spec:
  os: {name: linux}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    resources:
      limits: {cpu: 500m, memory: 256Mi}
      requests: {cpu: 250m, memory: 64Mi}
    env:
    - name: MEM_LIMIT_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: CPU_LIMIT_MILLI
      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
    - name: CPU_LIMIT
      valueFrom: {resourceFieldRef: {resource: limits.cpu}}
    - name: MEM_REQUEST
      valueFrom: {resourceFieldRef: {containerName: app, resource: requests.memory}}
    - name: SIDE_CPU_LIMIT_MILLI
      valueFrom: {resourceFieldRef: {containerName: side, resource: limits.cpu, divisor: 1m}}
  - name: side
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	pid := containerPID(t, d.runningPod("res"), "app")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		k, v, _ := strings.Cut(string(kv), "=")
		env[k] = v
	}
	want := map[string]string{
		"MEM_LIMIT_MI": "256", "CPU_LIMIT_MILLI": "500", "CPU_LIMIT": "1", "MEM_REQUEST": strconv.Itoa(64 << 20),
		"SIDE_CPU_LIMIT_MILLI": strconv.Itoa(runtime.NumCPU() * 1000),
	}
	for k, w := range want {
		if env[k] != w {
			t.Errorf("%s = %q, want %q", k, env[k], w)
		}
	}
}

// TestDownwardSubPathExpr: subPathExpr expands $(POD_NAME), set from a
// fieldRef, so the container writes into the pod's own directory of the
// volume, which another container sees whole.
func TestDownwardSubPathExpr(t *testing.T) {
	d := startDaemon(t)
	d.apply("subexpr.yaml", `apiVersion: v1
kind: Pod
metadata: {name: subexpr}
spec:
  volumes:
  - name: logs
    emptyDir: {}
  containers:
  - name: writer
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "write", "/logs/out.txt", "from the writer"]
    env:
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    volumeMounts: [{name: logs, mountPath: /logs, subPathExpr: "$(POD_NAME)"}]
  - name: reader
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: logs, mountPath: /all}]
`)
	testutil.WaitFor(t, 30*time.Second, "the writer's file in the volume's subexpr directory", func() bool {
		return d.inContainer("subexpr", "reader", "/all/subexpr/out.txt") == "from the writer"
	})
}

// TestDownwardHostToContainerVolume: with mountPropagation HostToContainer
// a tmpfs mounted on the host below a hostPath volume after the pod
// started appears in the container. The volume's source is a shared bind
// mount of a directory the test owns (HostToContainer needs a shared or
// slave mount, as on a systemd host).
func TestDownwardHostToContainerVolume(t *testing.T) {
	d := startDaemon(t)
	dir := filepath.Join(t.TempDir(), "host")
	sharedMount(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "late"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.apply("h2c.yaml", `apiVersion: v1
kind: Pod
metadata: {name: h2c}
spec:
  volumes:
  - name: host
    hostPath: {path: `+dir+`, type: Directory}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: host, mountPath: /host, mountPropagation: HostToContainer}]
`)
	d.runningPod("h2c")
	late := filepath.Join(dir, "late")
	if err := unix.Mount("berth-e2e", late, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(late, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(late, "hello"), []byte("mounted after the start"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the host's late tmpfs in the container", func() bool {
		return d.inContainer("h2c", "app", "/host/late/hello") == "mounted after the start"
	})
}

// TestDownwardBidirectionalVolume: a privileged container's Bidirectional
// mount of a shared host directory: a tmpfs the container mounts below it
// appears on the host.
func TestDownwardBidirectionalVolume(t *testing.T) {
	d := startDaemon(t)
	dir := filepath.Join(t.TempDir(), "host")
	sharedMount(t, dir)
	inner := filepath.Join(dir, "from-ctr")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	// The host's copy of the container's tmpfs outlives the container, as
	// with the kubelet: the test unmounts it.
	t.Cleanup(func() { unix.Unmount(inner, unix.MNT_DETACH) })
	d.apply("bidi.yaml", `apiVersion: v1
kind: Pod
metadata: {name: bidi}
spec:
  volumes:
  - name: host
    hostPath: {path: `+dir+`, type: Directory}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "overmount", "/host/from-ctr", "f", "mounted by the container"]
    securityContext: {privileged: true}
    volumeMounts: [{name: host, mountPath: /host, mountPropagation: Bidirectional}]
`)
	d.runningPod("bidi")
	testutil.WaitFor(t, 10*time.Second, "the container's tmpfs on the host", func() bool {
		b, _ := os.ReadFile(filepath.Join(inner, "f"))
		return string(b) == "mounted by the container\n"
	})
}
