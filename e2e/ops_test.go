package e2e

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

const sleeperYAML = `apiVersion: v1
kind: Pod
metadata:
  name: sleeper
  labels:
    app: sleeper
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`

// TestGetPodsJSONThroughJQ runs jq on the real `berth get pods -o json`
// output: scripts written for kubectl's PodList work on berth's.
func TestGetPodsJSONThroughJQ(t *testing.T) {
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq is not installed (.ci/run installs it)")
	}
	d := startDaemon(t)
	d.apply("sleeper.yaml", sleeperYAML)
	list := d.mustBerth("get", "pods", "-o", "json")
	one := d.mustBerth("get", "pods", "sleeper", "-o", "json")
	for _, tc := range []struct {
		input, filter string
	}{
		{list, `.kind == "List" and .apiVersion == "v1"`},
		{list, `.items[0].status.phase == "Running"`},
		{list, `.items[0].metadata.name == "sleeper" and .items[0].metadata.namespace == "default"`},
		{list, `.items[0].metadata.labels.app == "sleeper" and (.items[0].metadata.uid | length) > 0`},
		{list, `.items[0].spec.containers[0].image == "berth.test/demo:latest"`},
		{list, `.items[0].status.podIP | test("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$")`},
		{list, `.items[0].status.containerStatuses[0] | .name == "app" and .ready and .restartCount == 0 and (.state.running.startedAt | length) > 0`},
		{list, `[.items[] | select(.status.phase == "Running") | .metadata.name] == ["sleeper"]`},
		{one, `.kind == "Pod" and .status.phase == "Running"`},
		{one, `.metadata.annotations["berth.io/file"] | endswith("/sleeper.yaml")`},
		{one, `has("berth") | not`},
		{one, `.status.qosClass == "BestEffort" and (.status.hostIP | length) > 0`},
		{one, `[.status.conditions[] | select(.status == "True") | .type] == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]`},
		{one, `.status.containerStatuses[0].lastState == {}`},
	} {
		cmd := exec.Command(jq, "-e", tc.filter)
		cmd.Stdin = strings.NewReader(tc.input)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("jq -e '%s': %v\n%s\ninput:\n%s", tc.filter, err, out, tc.input)
		}
	}
}

// TestDescribeCrashLoopingPod shows what `describe` tells about a container
// that keeps failing: its BackOff events and its last exit code; the events
// are kept by the infra, so they are still there after a daemon kill -9.
func TestDescribeCrashLoopingPod(t *testing.T) {
	d := startDaemon(t)
	p := filepath.Join(d.manifests, "loop.yaml")
	// Written beside the directory and renamed in, as berth apply does
	// (apply itself would report the crash loop as a failure).
	if err := os.WriteFile(filepath.Join(d.dir, "loop.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata:
  name: loop
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "exit", "3"]
    resources:
      limits:
        memory: 64Mi
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(d.dir, "loop.yaml"), p); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "two restarts of the crash-looping container", func() bool {
		pods := d.pods()
		return len(pods) == 1 && api.Restarts(pods[0]) >= 2
	})
	squash := regexp.MustCompile(` +`)
	describe := func() string { return squash.ReplaceAllString(d.mustBerth("describe", "pod", "loop"), " ") }
	checkDescribe := func(when string) {
		out := describe()
		for _, want := range []string{
			"Name: loop",
			"File: " + p,
			"Last State: Terminated\n Reason: Error\n Exit Code: 3",
			"memory: 64Mi",
			"Warning BackOff",
			"container/app Back-off restarting failed container app",
			"Normal Started",
			"Normal Created",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: describe lacks %q:\n%s", when, want, out)
			}
		}
		if !regexp.MustCompile(`BackOff \S+ \(x[0-9]+ over \S+\)`).MatchString(out) {
			t.Errorf("%s: repeated BackOff events are not folded with a count:\n%s", when, out)
		}
	}
	checkDescribe("running daemon")
	if out := d.mustBerth("get", "events"); !strings.Contains(out, "BackOff") || !strings.Contains(out, "pod/loop/app") {
		t.Errorf("get events lacks the BackOff of pod/loop/app:\n%s", out)
	}

	d.stop(syscall.SIGKILL)
	d.start()
	checkDescribe("after daemon kill -9 and restart")
}

// TestFailedValidationEventOncePerProblem breaks a running pod's file: the
// pod keeps running and one FailedValidation event names the problem, however
// many reconcile passes see it.
func TestFailedValidationEventOncePerProblem(t *testing.T) {
	d := startDaemon(t)
	d.apply("sleeper.yaml", sleeperYAML)
	file := d.pod("sleeper").File()
	broken := strings.Replace(sleeperYAML, "image: berth.test/demo:latest", "image: berth.test/demo:latest\n    bogusField: 1", 1)
	if err := os.WriteFile(file+".tmp", []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(d.sock)
	validation := func() []api.Event {
		evs, err := c.Events(context.Background(), time.Time{}, file)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	testutil.WaitFor(t, 30*time.Second, "a FailedValidation event", func() bool { return len(validation()) > 0 })
	for range 3 {
		if err := c.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	evs := validation()
	if len(evs) != 1 || evs[0].Reason != api.EventFailedValidation || !strings.Contains(evs[0].Message, "bogusField") {
		t.Fatalf("want one FailedValidation event naming bogusField, got %s", toJSON(evs))
	}
	out := d.mustBerth("describe", "pod", "sleeper")
	if !strings.Contains(out, "FailedValidation") || !strings.Contains(out, "Running") {
		t.Errorf("describe of the still-running pod lacks its validation event:\n%s", out)
	}
}

// TestSystemdNotify points NOTIFY_SOCKET at a datagram socket the test owns:
// READY=1 arrives only after the first reconcile (the pod of a manifest
// present at start is already running then), and with WATCHDOG_USEC set the
// daemon sends WATCHDOG=1 keep-alives.
func TestSystemdNotify(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	notify := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", notify)
	t.Setenv("WATCHDOG_USEC", "200000")

	d := startDaemon(t, func(d *daemon) {
		if err := os.MkdirAll(d.manifests, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.manifests, "sleeper.yaml"), []byte(sleeperYAML), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	recv := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		deadline := time.Now().Add(60 * time.Second)
		for {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s from the daemon: %v\ndaemon log:\n%s", want, err, d.logBuf.String())
			}
			if strings.Contains(string(buf[:n]), want) {
				return
			}
		}
	}
	recv("READY=1")
	// READY came after the first pass: the pod exists and runs already.
	pods := d.pods()
	if len(pods) != 1 || api.DisplayStatus(pods[0]) != api.PodRunning {
		t.Fatalf("at READY=1 the pod should be running: %s", toJSON(pods))
	}
	for range 2 {
		recv("WATCHDOG=1")
	}
}

// TestWatchPods follows `berth get pods -w` while a pod starts and is
// deleted: the table header once, then a line per change (Running, then
// Terminating during its grace period).
func TestWatchPods(t *testing.T) {
	d := startDaemon(t)
	cmd := exec.Command(berthBin, d.args("get", "pods", "-w")...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	waitLine := func(what string, match func(string) bool) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %s; it printed:\n%s", what, strings.Join(seen, "\n"))
				}
				seen = append(seen, l)
				if match(l) {
					return
				}
			case <-timeout:
				t.Fatalf("no %s from get pods -w; it printed:\n%s", what, strings.Join(seen, "\n"))
			}
		}
	}
	field := func(l string, i int) string {
		f := strings.Fields(l)
		if len(f) <= i {
			return ""
		}
		return f[i]
	}
	d.apply("slow-stop.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: slow-stop
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--sigterm=ignore", "sleep"]
`)
	waitLine("Running line", func(l string) bool { return field(l, 0) == "slow-stop" && field(l, 2) == "Running" })
	d.mustBerth("delete", "pod", "slow-stop", "--wait=false")
	waitLine("Terminating line", func(l string) bool { return field(l, 0) == "slow-stop" && field(l, 2) == "Terminating" })
	headers := 0
	for _, l := range seen {
		if field(l, 0) == "NAME" {
			headers++
		}
	}
	if headers != 1 || field(seen[0], 0) != "NAME" {
		t.Errorf("want the header once, first; got:\n%s", strings.Join(seen, "\n"))
	}
}

// TestImageNotFoundEvent: a pod whose image is not in the store shows
// ErrImageNeverPull and an ImageNotFound event naming the image.
func TestImageNotFoundEvent(t *testing.T) {
	d := startDaemon(t)
	tmp := filepath.Join(d.dir, "ghost.yaml")
	if err := os.WriteFile(tmp, []byte(strings.Replace(sleeperYAML, "berth.test/demo:latest", "berth.test/ghost:1\n    imagePullPolicy: Never", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.manifests, "ghost.yaml")); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(d.sock)
	var evs []api.Event
	testutil.WaitFor(t, 30*time.Second, "an ImageNotFound event", func() bool {
		evs, _ = c.Events(context.Background(), time.Time{}, api.PodObject("default", "sleeper"))
		for _, e := range evs {
			if e.Reason == api.EventImageNotFound && e.Type == api.EventWarning && strings.Contains(e.Message, "berth.test/ghost:1") {
				return true
			}
		}
		return false
	})
	if st := api.DisplayStatus(d.pod("sleeper")); st != api.ReasonImageNotFound {
		t.Errorf("status %q, want %s", st, api.ReasonImageNotFound)
	}
}
