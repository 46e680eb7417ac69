package pod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/reconciler"
)

// These tests run a pod's create, teardown and recovery against the fake
// host (fakehost_test.go), without root.

const webYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  volumes:
  - name: data
    emptyDir: {}
  initContainers:
  - name: init
    image: berth.test/demo:latest
  containers:
  - name: web
    image: berth.test/demo:latest
    ports:
    - containerPort: 80
      hostPort: 8080
    volumeMounts:
    - name: data
      mountPath: /data
`

// goldenCreate is the host's side of webYAML's create.
var goldenCreate = []string{
	"image resolve default/web berth.test/demo:latest Always",
	"net check-ports default_web 8080/TCP",
	"volumes prepare state/pods/default_web/volumes",
	"cgroup ensure default_web",
	"cgroup ensure default_web/_infra",
	"infra launch default/web",
	"net setup default_web",
	"cgroup ensure default_web/init",
	"cgroup ensure default_web/web",
	"infra start default/web init,web",
}

// cgroupLane is the part of goldenCreate made beside the volumes: its
// operations keep their order, but may come before, between or after
// the volumes'.
var cgroupLane = []string{"cgroup ensure default_web", "cgroup ensure default_web/_infra"}

// inCreateOrder reports whether ops are goldenCreate's first operations
// (all of them with whole): in its order, but for the cgroup lane's
// place among the volumes'.
func inCreateOrder(ops []string, whole bool) bool {
	var main, lane []string
	for _, op := range ops {
		if slices.Contains(cgroupLane, op) {
			lane = append(lane, op)
		} else {
			main = append(main, op)
		}
	}
	wantMain := slices.DeleteFunc(slices.Clone(goldenCreate), func(op string) bool { return slices.Contains(cgroupLane, op) })
	if whole {
		return slices.Equal(main, wantMain) && slices.Equal(lane, cgroupLane) && slices.Equal(ops[:len(ops)-len(lane)-len(main)], nil) &&
			slices.Index(ops, "infra launch default/web") > slices.Index(ops, cgroupLane[len(cgroupLane)-1])
	}
	launched := slices.Contains(ops, "infra launch default/web")
	return slices.Equal(main, wantMain[:len(main)]) && slices.Equal(lane, cgroupLane[:len(lane)]) &&
		(!launched || len(lane) == len(cgroupLane) && slices.Index(ops, "infra launch default/web") > slices.Index(ops, cgroupLane[len(cgroupLane)-1]))
}

// goldenTeardown is the host's side of its removal, in kubelet's order.
var goldenTeardown = []string{
	"infra stop default/web grace=30s",
	"net teardown default_web",
	"infra shutdown default/web",
	"proc wait-exit 100",
	"cgroup kill default_web",
	"cgroup remove default_web",
	"volumes cleanup state/pods/default_web/volumes",
	"volumes cleanup state/pods/default_web",
}

func webPod(t *testing.T) *manifests.Pod {
	t.Helper()
	f := manifests.Parse("web.yaml", []byte(webYAML))
	if ps := f.Problems(); len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	return f.Docs[0].Pod
}

func newTestManager(h *fakeHost) *Manager {
	cfg := h.config()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewManager(cfg)
}

func createAction(p *manifests.Pod) reconciler.Action {
	return reconciler.Action{Kind: reconciler.Create, Desired: &reconciler.Desired{Pod: p, File: "web.yaml"}}
}

func deleteAction(p *manifests.Pod) reconciler.Action {
	return reconciler.Action{Kind: reconciler.Delete,
		Observed: &reconciler.Observed{Key: reconciler.PodKey{Namespace: p.Namespace, Name: p.Name}}}
}

func checkEmpty(t *testing.T, h *fakeHost) {
	t.Helper()
	if left := h.leftovers(); len(left) > 0 {
		t.Errorf("the host still holds:\n  %s", strings.Join(left, "\n  "))
	}
}

func TestCreateAndRemoveOperations(t *testing.T) {
	h := newFakeHost(t.TempDir())
	var logBuf bytes.Buffer
	cfg := h.config()
	cfg.Log = slog.New(slog.NewTextHandler(&logBuf, nil))
	m := NewManager(cfg)
	p := webPod(t)
	ctx := context.Background()
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	if got := h.log(); !inCreateOrder(got, true) {
		t.Errorf("create did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(goldenCreate, "\n  "))
	}
	// The "pod created" line times the phases the runner marks, in this
	// order (the fake's infra reports no container start breakdown).
	var keys []string
	for _, f := range strings.Fields(logBuf.String()) {
		if k, _, ok := strings.Cut(f, "="); ok && !slices.Contains([]string{"time", "level", "msg", "pod"}, k) {
			keys = append(keys, k)
		}
	}
	phases := []string{"total", "images", "volumes", "cgroups", "infra", "net_ipam", "net_link", "network", "configs", "containers"}
	if !slices.Equal(keys, phases) || !strings.Contains(logBuf.String(), `msg="pod created"`) {
		t.Errorf("logged %q, want the phases %q", logBuf.String(), phases)
	}
	e := m.pods[podid.ID(p.Namespace, p.Name)]
	if e == nil || e.rec.IP != "10.88.0.2" || e.rec.InfraPID != 100 || e.rec.ImageIDs["web"] != "sha256:1d" {
		t.Fatalf("created pod's record: %+v", e)
	}
	onDisk, err := readRecord(e.layout.State)
	if err != nil || onDisk.InfraPID != 100 || onDisk.InfraStart != 700 || onDisk.IP != "10.88.0.2" {
		t.Errorf("record on disk %+v, %v: want the infra and the IP", onDisk, err)
	}
	if err := m.Apply(ctx, deleteAction(p)); err != nil {
		t.Fatal(err)
	}
	if got := h.log(); !slices.Equal(got, goldenTeardown) {
		t.Errorf("removal did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(goldenTeardown, "\n  "))
	}
	checkEmpty(t, h)
}

// undoOrder is goldenTeardown with the kill of an infra that did not stop
// its containers.
var undoOrder = slices.Insert(slices.Clone(goldenTeardown), 3, "proc kill 100")

// withoutGrace drops an operation's grace period: a failed create stops
// its containers at once, a removal gives them the pod's.
func withoutGrace(ops []string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i], _, _ = strings.Cut(op, " grace=")
	}
	return out
}

// isSubsequence reports whether every element of sub appears in seq, in
// the same order.
func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}

// TestCreateFailingAtEachOperation fails each host operation of a create in
// turn (having done its work where a real one can fail half-way): the pod
// is refused with that error, and the undos leave the host empty, having
// run in teardown order.
func TestCreateFailingAtEachOperation(t *testing.T) {
	for k := 1; k <= len(goldenCreate); k++ {
		t.Run(goldenCreate[k-1], func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			m := newTestManager(h)
			p := webPod(t)
			h.failOn = goldenCreate[k-1]
			err := m.Apply(context.Background(), createAction(p))
			if err == nil || !strings.Contains(err.Error(), goldenCreate[k-1]+" failed") {
				t.Fatalf("create: %v, want the failure of %q", err, goldenCreate[k-1])
			}
			var made, undo []string
			for _, op := range h.log() {
				if slices.Contains(goldenCreate, op) {
					made = append(made, op)
				} else {
					undo = append(undo, op)
				}
			}
			if !inCreateOrder(made, false) || !slices.Contains(made, goldenCreate[k-1]) {
				t.Errorf("create did %q, not in its order", made)
			}
			if !isSubsequence(withoutGrace(undo), withoutGrace(undoOrder)) {
				t.Errorf("undos ran as\n  %s\nnot in teardown order", strings.Join(undo, "\n  "))
			}
			checkEmpty(t, h)
			pods := m.Pods(context.Background())
			if len(pods) != 1 || pods[0].Phase != kube.PodPending || len(m.pods) != 0 {
				t.Errorf("status after the failure: %+v", pods)
			}
		})
	}
}

// TestCreateFailingAfterEachStep fails every step of the create list, its
// work done, the ones on files only included, and an infra that never gets
// ready: every undo runs, in reverse, and the host is empty.
func TestCreateFailingAfterEachStep(t *testing.T) {
	names := stepNames(newTestManager(newFakeHost(t.TempDir())).createSteps(&podRun{}))
	for _, name := range append(names, "infra not ready") {
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			m := newTestManager(h)
			p := webPod(t)
			h.notReady = name == "infra not ready"
			c := &podRun{id: podid.ID(p.Namespace, p.Name), rec: &record{UID: "u1", File: "web.yaml", Pod: p}, l: m.layout(p, "u1")}
			steps := m.createSteps(c)
			failAfter(steps, name)
			r := newRunner(nil)
			err := r.run(context.Background(), steps)
			if err == nil {
				t.Fatal("create succeeded")
			}
			if err := r.rollback(context.Background()); err != nil {
				t.Errorf("rollback: %v", err)
			}
			checkEmpty(t, h)
		})
	}
}

func stepNames(steps []step) []string {
	var out []string
	for _, s := range flatten(steps) {
		out = append(out, s.name)
	}
	return out
}

// failAfter makes the step called name fail once its work is done.
func failAfter(steps []step, name string) {
	for i := range steps {
		for _, l := range steps[i].lanes {
			failAfter(l, name)
		}
		if steps[i].name != name {
			continue
		}
		do := steps[i].do
		steps[i].do = func(ctx context.Context) error {
			return errors.Join(do(ctx), errors.New("injected failure after "+name))
		}
	}
}

// TestRecoverAfterCrashAfterEachStep stops the daemon after each step of a
// create, as a crash would (no undo runs; the infra outlives the daemon),
// and starts a new Manager on the same host: its Recover leaves the host
// empty, or, once the containers were started, adopts the pod as it is.
func TestRecoverAfterCrashAfterEachStep(t *testing.T) {
	all := newTestManager(newFakeHost(t.TempDir())).createSteps(&podRun{})
	for k := 0; k <= len(all); k++ {
		name := "before any step"
		if k > 0 {
			name = "after " + all[k-1].name
		}
		whole := slices.ContainsFunc(flatten(all[:k]), func(s step) bool { return s.name == "containers" })
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			p := webPod(t)
			crashed := newTestManager(h)
			c := &podRun{id: podid.ID(p.Namespace, p.Name), rec: &record{UID: "u1", File: "web.yaml", Pod: p}, l: crashed.layout(p, "u1")}
			if err := newRunner(nil).run(context.Background(), crashed.createSteps(c)[:k]); err != nil {
				t.Fatal(err)
			}
			h.log()
			before := h.leftovers()

			m := newTestManager(h)
			if err := m.Recover(context.Background()); err != nil {
				t.Errorf("recover: %v", err)
			}
			if !whole {
				// A pod whose infra reported ready keeps its logs for the
				// pod its manifest makes again, until it is known that none will.
				m.Forget(func(string, string) bool { return false })
				checkEmpty(t, h)
				if len(m.pods) != 0 {
					t.Errorf("recover adopted a half-made pod")
				}
				return
			}
			if after := h.leftovers(); !slices.Equal(after, before) || len(m.pods) != 1 {
				t.Fatalf("recover of a whole pod: host %q, was %q; adopted %d pods", after, before, len(m.pods))
			}
			if err := m.Apply(context.Background(), deleteAction(p)); err != nil {
				t.Fatal(err)
			}
			checkEmpty(t, h)
		})
	}
}

// TestRecoverKeepsSilentInfra restarts the daemon over two whole pods: one
// whose infra is alive but answers no call in time, one whose infra died.
// Recover keeps the first untouched (it may run), shown Unknown with
// InfraUnreachable, and removes the second; removing the kept pod later
// kills its infra, which never answers the stop.
func TestRecoverKeepsSilentInfra(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	crashed := newTestManager(h)
	silent, dead := webPod(t), webPod(t)
	dead.Name = "dead"
	for _, p := range []*manifests.Pod{silent, dead} {
		if err := crashed.Apply(ctx, createAction(p)); err != nil {
			t.Fatal(err)
		}
	}
	silentPID := crashed.pods[podid.ID(silent.Namespace, silent.Name)].rec.InfraPID
	h.mu.Lock()
	h.procs[silentPID].silent = true
	h.procs[crashed.pods[podid.ID(dead.Namespace, dead.Name)].rec.InfraPID].alive = false
	h.mu.Unlock()
	h.log()

	m := newTestManager(h)
	if err := m.Recover(ctx); err != nil {
		t.Errorf("recover: %v", err)
	}
	m.Forget(func(_, name string) bool { return name != "dead" })
	for _, op := range h.log() {
		if strings.Contains(op, "default_web") || strings.Contains(op, "default/web") || strings.HasSuffix(op, fmt.Sprint(silentPID)) {
			t.Errorf("recover touched the pod of the silent infra: %s", op)
		}
	}
	var left []string
	for _, l := range h.leftovers() {
		if strings.Contains(l, "dead") {
			left = append(left, l)
		}
	}
	if len(left) > 0 {
		t.Errorf("the dead pod was not removed: %q", left)
	}
	pods := m.Pods(ctx)
	if len(m.pods) != 1 || len(pods) != 1 || pods[0].Meta.Name != "web" ||
		pods[0].Phase != kube.PodUnknown || pods[0].Reason != "InfraUnreachable" {
		t.Fatalf("after recover: %d pods held, status %+v; want web kept, Unknown, InfraUnreachable", len(m.pods), pods)
	}

	if err := m.Apply(ctx, deleteAction(silent)); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(goldenTeardown)
	want[slices.Index(want, "infra shutdown default/web")] = fmt.Sprintf("proc kill %d", silentPID)
	if got := h.log(); !slices.Equal(got, want) {
		t.Errorf("removal did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	checkEmpty(t, h)
}

// TestPortRefusedPodNeverHoldsALease: a pod whose host port another pod
// holds is refused before anything of it is made, and one that loses the
// port between the check and the claim is refused holding no lease.
func TestPortRefusedPodNeverHoldsALease(t *testing.T) {
	for _, late := range []bool{false, true} {
		h := newFakeHost(t.TempDir())
		m := newTestManager(h)
		p := webPod(t)
		h.portOwner, h.portTakenLate = "default_other", late
		err := m.Apply(context.Background(), createAction(p))
		if !errors.Is(err, netsetup.ErrHostPortInUse) || failureReason(err) != kube.ReasonHostPortInUse {
			t.Fatalf("late %v: create: %v, want a host port conflict", late, err)
		}
		ops := h.log()
		if !late && !slices.Equal(ops, goldenCreate[:2]) {
			t.Errorf("a pod refused at the check made %q", ops)
		}
		checkEmpty(t, h)
	}
}

// TestCreateWaitsForImage: a pod whose image the ImageSource does not give
// yet is refused at the images step with the source's reason, before any
// other step makes anything; the warning event matches the reason (none
// while the image is pulled: the source's Pulling event says so). A pod
// whose image is present is created meanwhile, and the waiting pod is
// created whole once its image is there.
func TestCreateWaitsForImage(t *testing.T) {
	cases := []struct {
		reason, event string
	}{
		{kube.ReasonContainerCreating, ""},
		{kube.ReasonErrImagePull, kube.EventFailed},
		{kube.ReasonImagePullBackOff, kube.EventBackOff},
		{kube.ReasonImageNotFound, kube.EventImageNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			ctx := context.Background()
			h := newFakeHost(t.TempDir())
			cfg := h.config()
			cfg.Log = slog.New(slog.DiscardHandler)
			var warnings []string
			cfg.Event = func(e Event) {
				if e.Type == kube.EventWarning {
					warnings = append(warnings, e.Reason)
				}
			}
			m := NewManager(cfg)
			p := webPod(t)
			h.pulls["berth.test/demo:latest"] = tc.reason

			err := m.Apply(ctx, createAction(p))
			if err == nil || failureReason(err) != tc.reason {
				t.Fatalf("create: %v, want reason %s", err, tc.reason)
			}
			if ops := h.log(); !slices.Equal(ops, goldenCreate[:1]) {
				t.Errorf("a pod without its image made %q", ops)
			}
			checkEmpty(t, h)
			var want []string
			if tc.event != "" {
				want = []string{tc.event}
			}
			if !slices.Equal(warnings, want) {
				t.Errorf("warning events %q, want %q", warnings, want)
			}
			pods := m.Pods(ctx)
			if len(pods) != 1 || pods[0].Phase != kube.PodPending || pods[0].Reason != tc.reason {
				t.Fatalf("status: %+v, want Pending with reason %s", pods, tc.reason)
			}

			other := webPod(t)
			other.Name = "other"
			other.Spec.Containers[0].Ports = nil
			for _, c := range allContainers(other) {
				c.Image = "berth.test/present:1"
			}
			if err := m.Apply(ctx, createAction(other)); err != nil {
				t.Fatalf("a pod whose image is present: %v", err)
			}
			h.log()

			delete(h.pulls, "berth.test/demo:latest")
			if err := m.Apply(ctx, createAction(p)); err != nil {
				t.Fatal(err)
			}
			if got := h.log(); !inCreateOrder(got, true) {
				t.Errorf("create once the image is there did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(goldenCreate, "\n  "))
			}
			if pod, ok := m.Pod(ctx, p.Namespace, p.Name); !ok || pod.Reason != "" {
				t.Errorf("status once created: reason %q", pod.Reason)
			}
		})
	}
}

// TestRecoverCarriesDeadPodToItsSuccessor: a pod whose infra died with its
// host is removed by Recover but for its logs; the pod its manifest makes
// again keeps its UID and logs, and each container with a logged run starts
// as the restart after it (lastState Unknown, exit code 255), as the
// kubelet shows containers after a node reboot. A changed spec is a new pod
// that starts afresh, and the old logs go.
func TestRecoverCarriesDeadPodToItsSuccessor(t *testing.T) {
	for _, changed := range []bool{false, true} {
		t.Run(fmt.Sprintf("spec changed %v", changed), func(t *testing.T) {
			ctx := context.Background()
			h := newFakeHost(t.TempDir())
			crashed := newTestManager(h)
			p := webPod(t)
			if err := crashed.Apply(ctx, createAction(p)); err != nil {
				t.Fatal(err)
			}
			old := crashed.pods[podid.ID(p.Namespace, p.Name)]
			logFile := crilog.Path(old.layout.Logs, "web", 2)
			if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logFile, []byte("2026-01-01T00:00:00Z stdout F x\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			h.procs[old.rec.InfraPID].alive = false
			h.mu.Unlock()

			m := newTestManager(h)
			if err := m.Recover(ctx); err != nil {
				t.Errorf("recover: %v", err)
			}
			if len(m.pods) != 0 {
				t.Fatalf("recover adopted a dead pod")
			}
			next := webPod(t)
			if changed {
				next.Spec.Containers[0].Args = append(next.Spec.Containers[0].Args, "changed")
			}
			if err := m.Apply(ctx, createAction(next)); err != nil {
				t.Fatal(err)
			}
			e := m.pods[podid.ID(p.Namespace, p.Name)]
			_, logErr := os.Stat(logFile)
			if got := e.rec.UID == old.rec.UID; got == changed || (logErr == nil) == changed {
				t.Errorf("new pod's uid %s (dead one's %s), dead one's log: %v", e.rec.UID, old.rec.UID, logErr)
			}
			h.mu.Lock()
			ctrs := h.procs[e.rec.InfraPID].ctrs
			h.mu.Unlock()
			for _, c := range ctrs {
				carried := c.Name == "web" && !changed
				if got := c.LastState != nil; got != carried {
					t.Errorf("container %s: last state %+v, want one: %v", c.Name, c.LastState, carried)
					continue
				}
				if carried && (c.RestartCount != 2 || c.LastState.Reason != kube.ReasonUnknown || c.LastState.ExitCode != kube.ExitCodeUnknown) {
					t.Errorf("container %s starts at restart %d after %+v, want 2 after Unknown, 255", c.Name, c.RestartCount, c.LastState)
				}
			}
			m.Forget(func(string, string) bool { return false })
			if err := m.Apply(ctx, deleteAction(p)); err != nil {
				t.Fatal(err)
			}
			checkEmpty(t, h)
		})
	}
}
