package k8scompat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-project/berth/volumes"
)

// The daemon tests run the real berth binary, built as every release is
// (hack/build), on a daemon of their own: temporary directories, a bridge,
// CIDR, nftables table and cgroup parent with names unique to the run,
// all removed afterwards.

var (
	buildOnce            sync.Once
	buildDir, berthBin   string
	demoBin              string
	buildErr             error
	repoRoot, _          = filepath.Abs("../..")
	berthImage           = "berth.test/k8scompat:latest"
	daemonReadyTimeout   = 30 * time.Second
	podSettleTimeout     = 60 * time.Second
	daemonCleanupTimeout = 60 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds berth and the demo workload once per test binary.
func binaries(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "berth-k8scompat-bin-"); buildErr != nil {
			return
		}
		berthBin, demoBin = filepath.Join(buildDir, "berth"), filepath.Join(buildDir, "demo")
		build := exec.Command("bash", "hack/build", berthBin, "-trimpath")
		build.Dir = repoRoot
		demo := exec.Command("go", "build", "-trimpath", "-o", demoBin, ".")
		demo.Dir = filepath.Join(repoRoot, "examples", "demo")
		for _, c := range []*exec.Cmd{build, demo} {
			c.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := c.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("%s: %w\n%s", strings.Join(c.Args, " "), err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// daemon is one berth daemon under test.
type daemon struct {
	t                                 *testing.T
	dir, manifests                    string
	bridge, cidr, table, cgroupParent string
	cmd                               *exec.Cmd
	log                               *syncBuffer
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs a berth daemon (namespaces, cgroups, a bridge)")
	}
	binaries(t)
	dir, err := os.MkdirTemp("", "bk8s")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	d := &daemon{
		t: t, dir: dir, manifests: filepath.Join(dir, "m"),
		bridge: "bk" + suffix, table: "berth_k8s_" + suffix, cgroupParent: "berth-k8s-" + suffix,
		cidr: fmt.Sprintf("10.%d.%d.0/24", 150+int(b[0])%50, b[1]),
		log:  &syncBuffer{},
	}
	t.Cleanup(d.cleanup)
	d.mustBerth("image", "import", "--rootfs", d.rootfs(), berthImage)
	d.cmd = exec.Command(berthBin, d.args("daemon", "--bridge", d.bridge, "--cidr", d.cidr,
		"--nft-table", d.table, "--cgroup-parent", d.cgroupParent, "--debounce", "20ms",
		"--backoff-initial", "200ms", "--backoff-max", "1s")...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, daemonReadyTimeout, "the daemon's socket", func() bool {
		_, err := d.berth("get", "pods")
		return err == nil
	})
	return d
}

// rootfs makes the workload's root: /bin/demo and the files a container
// needs to resolve its user.
func (d *daemon) rootfs() string {
	root := filepath.Join(d.dir, "rootfs")
	for _, sub := range []string{"bin", "etc", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil {
			d.t.Fatal(err)
		}
	}
	demo, err := os.ReadFile(demoBin)
	if err != nil {
		d.t.Fatal(err)
	}
	for name, f := range map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"bin/demo":   {demo, 0o755},
		"etc/passwd": {[]byte("root:x:0:0:root:/root:/bin/demo\nnobody:x:65534:65534:nobody:/nonexistent:/bin/demo\n"), 0o644},
		"etc/group":  {[]byte("root:x:0:\nnogroup:x:65534:\n"), 0o644},
	} {
		if err := os.WriteFile(filepath.Join(root, name), f.data, f.mode); err != nil {
			d.t.Fatal(err)
		}
	}
	return root
}

func (d *daemon) args(extra ...string) []string {
	return append([]string{"--manifests", d.manifests, "--state-dir", filepath.Join(d.dir, "s"),
		"--run-dir", filepath.Join(d.dir, "r"), "--log-dir", filepath.Join(d.dir, "l"),
		"--socket", filepath.Join(d.dir, "r", "berth.sock")}, extra...)
}

// berth runs the CLI against this daemon and returns its standard output.
func (d *daemon) berth(args ...string) ([]byte, error) {
	cmd := exec.Command(berthBin, d.args(args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("berth %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.Bytes(), nil
}

func (d *daemon) mustBerth(args ...string) []byte {
	d.t.Helper()
	out, err := d.berth(args...)
	if err != nil {
		d.t.Fatalf("%v\ndaemon log:\n%s", err, d.log.String())
	}
	return out
}

// apply places a manifest with `berth apply` without waiting.
func (d *daemon) apply(name, manifest string) string {
	d.t.Helper()
	p := filepath.Join(d.dir, name)
	if err := os.WriteFile(p, []byte(manifest), 0o644); err != nil {
		d.t.Fatal(err)
	}
	d.mustBerth("apply", "-f", p, "--wait=false")
	return filepath.Join(d.manifests, name)
}

// pod reads one pod as `berth get pod NAME -o json` prints it, decoded
// leniently (the strict checks are the tests' own).
func (d *daemon) pod(name string) corev1.Pod {
	d.t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal(d.mustBerth("get", "pod", name, "-o", "json"), &p); err != nil {
		d.t.Fatalf("decode pod %s: %v", name, err)
	}
	return p
}

// cleanup deletes the pods, stops the daemon and removes what it made on
// the host: bridge, nftables table, cgroups, directories and mounts.
func (d *daemon) cleanup() {
	if d.cmd != nil {
		ents, _ := os.ReadDir(d.manifests)
		for _, e := range ents {
			os.Remove(filepath.Join(d.manifests, e.Name()))
		}
		deadline := time.Now().Add(daemonCleanupTimeout)
		for time.Now().Before(deadline) {
			out, err := d.berth("get", "pods", "-A", "-o", "json")
			var l struct{ Items []json.RawMessage }
			if err != nil || json.Unmarshal(out, &l) != nil || len(l.Items) == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", d.log.String())
	}
	if l, err := netlink.LinkByName(d.bridge); err == nil {
		netlink.LinkDel(l)
	}
	if c, err := nftables.New(); err == nil {
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: d.table})
		c.Flush()
	}
	removeCgroups(d.cgroupParent)
	volumes.Cleanup(d.dir)
	os.RemoveAll(d.dir)
}

// removeCgroups removes cgroup and its descendants, deepest first, in
// every hierarchy (one on cgroup v2, one per controller on v1).
func removeCgroups(cgroup string) {
	roots := []string{"/sys/fs/cgroup"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		roots, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	for _, r := range roots {
		var dirs []string
		filepath.WalkDir(filepath.Join(r, cgroup), func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			syscall.Rmdir(dirs[i])
		}
	}
}

// waitFor polls cond until it holds, or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(wait)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// steadyPod runs to Ready after an init container: Guaranteed QoS (every
// container's requests equal its limits).
const steadyPod = `apiVersion: v1
kind: Pod
metadata:
  name: steady
  labels: {app: steady}
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: init
    image: ` + "berth.test/k8scompat:latest" + `
    imagePullPolicy: Never
    command: ["/bin/demo", "exit", "0"]
    resources:
      limits: {cpu: 100m, memory: 32Mi}
  containers:
  - name: main
    image: berth.test/k8scompat:latest
    imagePullPolicy: Never
    command: ["/bin/demo", "sleep"]
    resources:
      requests: {cpu: 100m, memory: 32Mi}
      limits: {cpu: 100m, memory: 32Mi}
`

// crasherPod exits 3 and is restarted: BestEffort, with a last state.
const crasherPod = `apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: crash
    image: berth.test/k8scompat:latest
    imagePullPolicy: Never
    command: ["/bin/demo", "exit", "3"]
`

// brokenPod is refused by berth: its restart policy does not exist.
const brokenPod = `apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  restartPolicy: Sometimes
  containers:
  - name: c
    image: berth.test/k8scompat:latest
`

// TestDaemonOutputIsKubernetes: what `berth get` prints as JSON or YAML
// is, to Kubernetes' strict decoder, a v1.PodList, v1.Pod or v1.EventList
// that re-encodes without losing a field, and carries what the kubelet
// fills in.
func TestDaemonOutputIsKubernetes(t *testing.T) {
	d := startDaemon(t)
	steadyFile := d.apply("steady.yaml", steadyPod)
	d.apply("crasher.yaml", crasherPod)
	waitFor(t, podSettleTimeout, "pod steady ready", func() bool {
		p := d.pod("steady")
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	waitFor(t, podSettleTimeout, "pod crasher restarted", func() bool {
		p := d.pod("crasher")
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount > 0
	})
	// A file berth refuses (apply would not place it): its pod shows as
	// InvalidManifest, its problem as a FailedValidation event.
	brokenFile := filepath.Join(d.manifests, "broken.yaml")
	if err := os.WriteFile(brokenFile, []byte(brokenPod), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, podSettleTimeout, "pod broken listed", func() bool {
		_, err := d.berth("get", "pod", "broken", "-o", "json")
		return err == nil
	})

	t.Run("lastState", func(t *testing.T) {
		// What the jq finds:
		// .items[].status.containerStatuses[].lastState.terminated.exitCode
		var l struct {
			Items []struct {
				Metadata struct{ Name string }
				Status   struct {
					ContainerStatuses []map[string]json.RawMessage
				}
			}
		}
		if err := json.Unmarshal(d.mustBerth("get", "pods", "-o", "json"), &l); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range l.Items {
			for _, cs := range p.Status.ContainerStatuses {
				var last struct{ Terminated *struct{ ExitCode int32 } }
				if raw, ok := cs["lastState"]; ok && json.Unmarshal(raw, &last) == nil && last.Terminated != nil {
					found = found || (p.Metadata.Name == "crasher" && last.Terminated.ExitCode == 3)
				}
			}
		}
		if !found {
			t.Errorf(".items[].status.containerStatuses[].lastState.terminated.exitCode finds no 3 for pod crasher")
		}
	})

	outputs := []struct {
		args []string
		into func() any
	}{
		{[]string{"get", "pods", "-o", "json"}, func() any { return &corev1.PodList{} }},
		{[]string{"get", "pods", "-A", "-o", "yaml"}, func() any { return &corev1.PodList{} }},
		{[]string{"get", "pod", "steady", "-o", "json"}, func() any { return &corev1.Pod{} }},
		{[]string{"get", "pod", "crasher", "-o", "yaml"}, func() any { return &corev1.Pod{} }},
		{[]string{"get", "events", "-o", "json"}, func() any { return &corev1.EventList{} }},
		{[]string{"get", "events", "-A", "-o", "json"}, func() any { return &corev1.EventList{} }},
	}
	for _, o := range outputs {
		t.Run(strings.Join(o.args, " "), func(t *testing.T) {
			out := d.mustBerth(o.args...)
			if o.args[len(o.args)-1] == "yaml" {
				j, err := yaml.YAMLToJSON(out)
				if err != nil {
					t.Fatalf("not YAML: %v\n%s", err, out)
				}
				out = j
			}
			v := o.into()
			lost, err := roundTrip(out, v)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(lost) > 0 {
				t.Errorf("the round trip through %T loses:%s", v, lostReport(lost))
			}
		})
	}

	t.Run("get events -w -o json", func(t *testing.T) {
		// As kubectl -w -o json: one v1 Event a line, each strict.
		var list corev1.EventList
		if err := json.Unmarshal(d.mustBerth("get", "events", "-o", "json"), &list); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, berthBin, d.args("get", "events", "-w", "-o", "json")...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cancel()
			cmd.Wait()
		}()
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		n := 0
		for ; n < len(list.Items) && sc.Scan(); n++ {
			lost, err := roundTrip(sc.Bytes(), &corev1.Event{})
			if err != nil {
				t.Fatalf("line %d: %v\n%s", n+1, err, sc.Bytes())
			}
			if len(lost) > 0 {
				t.Errorf("line %d: the round trip through v1.Event loses:%s", n+1, lostReport(lost))
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if n == 0 || n < len(list.Items) {
			t.Errorf("-w -o json printed %d lines, want one per event (%d)", n, len(list.Items))
		}
	})

	t.Run("invalid manifest", func(t *testing.T) {
		p := d.pod("broken")
		if p.Status.Reason != "InvalidManifest" || p.Annotations["berth.io/file"] != brokenFile || !strings.Contains(p.Status.Message, "spec.restartPolicy") {
			t.Errorf("broken: reason %q, message %q, annotations %v", p.Status.Reason, p.Status.Message, p.Annotations)
		}
		if s := condition(p, "berth.io/ManifestValid"); s != corev1.ConditionFalse {
			t.Errorf("broken: condition berth.io/ManifestValid is %q, want False", s)
		}
	})

	t.Run("kubelet fields", func(t *testing.T) {
		steady, crasher := d.pod("steady"), d.pod("crasher")
		checkKubeletFields(t, steady, corev1.PodQOSGuaranteed)
		checkKubeletFields(t, crasher, corev1.PodQOSBestEffort)
		if got := steady.Annotations["berth.io/file"]; got != steadyFile {
			t.Errorf("steady: annotation berth.io/file = %q, want %q", got, steadyFile)
		}
		if steady.CreationTimestamp.IsZero() {
			t.Errorf("steady: no metadata.creationTimestamp")
		}
		for _, c := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
			if s := condition(steady, c); s != corev1.ConditionTrue {
				t.Errorf("steady: condition %s is %q, want True", c, s)
			}
		}
		for _, p := range []corev1.Pod{steady, crasher} {
			ready := len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
			want := map[bool]corev1.ConditionStatus{true: corev1.ConditionTrue, false: corev1.ConditionFalse}[ready]
			if s := condition(p, corev1.PodReady); s != want {
				t.Errorf("%s: condition Ready is %q, the container's ready is %v", p.Name, s, ready)
			}
		}
		if len(steady.Status.InitContainerStatuses) != 1 {
			t.Fatalf("steady: initContainerStatuses %+v", steady.Status.InitContainerStatuses)
		}
		if term := steady.Status.InitContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Errorf("steady: init container state %+v, want terminated, Completed, exit code 0", steady.Status.InitContainerStatuses[0].State)
		}
		main := steady.Status.ContainerStatuses[0]
		if main.State.Running == nil || !main.Ready || main.Started == nil || !*main.Started || main.ImageID == "" || main.ContainerID == "" {
			t.Errorf("steady: container status %+v, want running, ready, started, with image and container IDs", main)
		}
		crash := crasher.Status.ContainerStatuses[0]
		if crash.LastTerminationState.Terminated == nil || crash.LastTerminationState.Terminated.ExitCode != 3 {
			t.Errorf("crasher: last state %+v, want terminated with exit code 3", crash.LastTerminationState)
		}
	})

	t.Run("events", func(t *testing.T) {
		var l corev1.EventList
		if err := json.Unmarshal(d.mustBerth("get", "events", "-o", "json"), &l); err != nil {
			t.Fatal(err)
		}
		started, invalid := false, false
		for _, e := range l.Items {
			if e.Name == "" || e.Namespace == "" || e.InvolvedObject.Kind == "" || e.Reason == "" || e.Type == "" || e.LastTimestamp.IsZero() || e.Count < 1 {
				t.Errorf("event %+v lacks a field kubectl fills", e)
			}
			if e.Reason == "Started" && e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == "steady" &&
				e.InvolvedObject.Namespace == "default" && e.InvolvedObject.FieldPath == "spec.containers{main}" {
				started = true
			}
			if e.Reason == "FailedValidation" && e.InvolvedObject.Kind == "ManifestFile" && e.InvolvedObject.Name == brokenFile {
				invalid = true
			}
		}
		if !started {
			t.Errorf("no Started event for spec.containers{main} of pod default/steady in %d events", len(l.Items))
		}
		if !invalid {
			t.Errorf("no FailedValidation event about the file %s in %d events", brokenFile, len(l.Items))
		}
	})
}

// checkKubeletFields checks the status fields the kubelet always fills for
// a running pod.
func checkKubeletFields(t *testing.T, p corev1.Pod, qos corev1.PodQOSClass) {
	t.Helper()
	st := p.Status
	if st.QOSClass != qos {
		t.Errorf("%s: qosClass %q, want %q", p.Name, st.QOSClass, qos)
	}
	if st.PodIP == "" || len(st.PodIPs) != 1 || st.PodIPs[0].IP != st.PodIP {
		t.Errorf("%s: podIP %q, podIPs %v", p.Name, st.PodIP, st.PodIPs)
	}
	if st.HostIP == "" || len(st.HostIPs) != 1 || st.HostIPs[0].IP != st.HostIP {
		t.Errorf("%s: hostIP %q, hostIPs %v", p.Name, st.HostIP, st.HostIPs)
	}
	if st.StartTime == nil || st.StartTime.IsZero() {
		t.Errorf("%s: no startTime", p.Name)
	}
	if st.Phase != corev1.PodRunning {
		t.Errorf("%s: phase %q, want Running", p.Name, st.Phase)
	}
	if len(st.Conditions) == 0 {
		t.Errorf("%s: no conditions", p.Name)
	}
}

func condition(p corev1.Pod, c corev1.PodConditionType) corev1.ConditionStatus {
	for _, pc := range p.Status.Conditions {
		if pc.Type == c {
			return pc.Status
		}
	}
	return ""
}
