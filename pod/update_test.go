package pod

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// twoYAML is a pod of two containers sharing an emptyDir, with limits.
const twoYAML = `apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: a
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    resources:
      limits: {memory: 64Mi}
    volumeMounts:
    - name: data
      mountPath: /data
  - name: b
    image: berth.test/demo:latest
    resources:
      limits: {memory: 64Mi}
`

func twoPod(t *testing.T, edit func(p *manifests.Pod)) *manifests.Pod {
	t.Helper()
	f := manifests.Parse("two.yaml", []byte(twoYAML))
	if ps := f.Problems(); len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	p := f.Docs[0].Pod
	if edit != nil {
		edit(p)
	}
	return p
}

// changedCommand is a's command changed: a restarts.
func changedCommand(p *manifests.Pod) { p.Spec.Containers[0].Command = []string{"/bin/demo", "serve"} }

// raisedMemory is b's memory limit raised: b is resized live.
func raisedMemory(p *manifests.Pod) {
	p.Spec.Containers[1].Resources.Limits["memory"] = manifests.MustParseQuantity("128Mi")
}

// loweredMemory is a's command changed and its memory limit lowered.
func loweredMemory(p *manifests.Pod) {
	changedCommand(p)
	p.Spec.Containers[0].Resources.Limits["memory"] = manifests.MustParseQuantity("32Mi")
}

// replaceAction is what the reconciler plans to take the running pod old
// to new.
func replaceAction(old, new *manifests.Pod) reconciler.Action {
	k := reconciler.PodKey{Namespace: new.Namespace, Name: new.Name}
	return reconciler.Action{Kind: reconciler.Replace, Key: k,
		Desired:  &reconciler.Desired{Key: k, Pod: new, File: "two.yaml"},
		Observed: &reconciler.Observed{Key: k, Pod: old, File: "two.yaml"},
		Change:   reconciler.DiffSpec(old, new)}
}

// startTwo creates twoYAML's pod on h.
func startTwo(t *testing.T, h *fakeHost) (*Manager, *manifests.Pod) {
	t.Helper()
	m := newTestManager(h)
	p := twoPod(t, nil)
	if err := m.Apply(context.Background(), reconciler.Action{Kind: reconciler.Create, Desired: &reconciler.Desired{Pod: p, File: "two.yaml"}}); err != nil {
		t.Fatal(err)
	}
	h.log()
	return m, p
}

const mi = 1 << 20

var goldenUpdate = map[string][]string{
	"restart": {
		"image resolve default/two berth.test/demo:latest Always",
		"volumes prepare state/pods/default_two/volumes",
		"cgroup ensure default_two",
		"cgroup ensure default_two/a",
		"infra update default/two a grace=30s",
	},
	"resize": {
		"cgroup ensure default_two",
		"cgroup ensure default_two/b",
	},
	// The lowered limits are written once the old run ended.
	"lower": {
		"image resolve default/two berth.test/demo:latest Always",
		"volumes prepare state/pods/default_two/volumes",
		"cgroup ensure default_two",
		"cgroup ensure default_two/a",
		"infra update default/two a grace=30s",
		"cgroup ensure default_two/a",
		"cgroup ensure default_two",
	},
}

var updateEdits = map[string]func(*manifests.Pod){"restart": changedCommand, "resize": raisedMemory, "lower": loweredMemory}

// TestUpdateInPlace: a change confined to containers touches only them:
// no new infra, no network or teardown operation; the restarted container
// runs its new config, the record on disk and the pod's view carry the new
// spec, the cgroups its limits.
func TestUpdateInPlace(t *testing.T) {
	for name, edit := range updateEdits {
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			m, old := startTwo(t, h)
			e := m.pods[podid.ID("default", "two")]
			pid := e.rec.InfraPID
			p := twoPod(t, edit)
			if err := m.Apply(context.Background(), replaceAction(old, p)); err != nil {
				t.Fatal(err)
			}
			if got := h.log(); !slices.Equal(got, goldenUpdate[name]) {
				t.Errorf("update did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(goldenUpdate[name], "\n  "))
			}
			onDisk, err := readRecord(e.layout.State)
			if err != nil || !manifests.SpecEqual(onDisk.Pod, p) || onDisk.InfraPID != pid || onDisk.IP != e.rec.IP {
				t.Errorf("record on disk %+v, %v: want the new spec, the same infra and IP", onDisk, err)
			}
			if got := m.pods[podid.ID("default", "two")].rec.Pod; !manifests.SpecEqual(got, p) {
				t.Error("the manager still holds the old spec")
			}
			cfg, _ := h.ctrConfig(e.layout.Socket(), "a")
			wantArgs := []string{"/bin/demo", "sleep"}
			if name != "resize" {
				wantArgs = []string{"/bin/demo", "serve"}
			}
			if !slices.Equal(cfg.Init.Args, wantArgs) {
				t.Errorf("a runs %q, want %q", cfg.Init.Args, wantArgs)
			}
			wantA, wantB := int64(64*mi), int64(64*mi)
			switch name {
			case "resize":
				wantB = 128 * mi
			case "lower":
				wantA = 32 * mi
			}
			if a, b := h.memoryOf("default_two/a"), h.memoryOf("default_two/b"); a != wantA || b != wantB {
				t.Errorf("memory limits a=%d b=%d, want %d %d", a, b, wantA, wantB)
			}
		})
	}
}

// TestUpdateFailingAtEachOperation fails each host operation of an update
// in turn: the pod keeps running on the same infra, with its old record
// and its old limits; the same update then succeeds.
func TestUpdateFailingAtEachOperation(t *testing.T) {
	for name, edit := range updateEdits {
		for k := 1; k <= len(goldenUpdate[name]); k++ {
			t.Run(name+"/"+goldenUpdate[name][k-1], func(t *testing.T) {
				h := newFakeHost(t.TempDir())
				m, old := startTwo(t, h)
				var events []Event
				m.cfg.Event = func(e Event) { events = append(events, e) }
				e := m.pods[podid.ID("default", "two")]
				before := h.leftovers()
				p := twoPod(t, edit)
				h.failAt = k
				err := m.Apply(context.Background(), replaceAction(old, p))
				if err == nil || !strings.Contains(err.Error(), goldenUpdate[name][k-1]+" failed") {
					t.Fatalf("update: %v, want the failure of %q", err, goldenUpdate[name][k-1])
				}
				ops := h.log()
				if slices.ContainsFunc(ops, func(op string) bool {
					return strings.HasPrefix(op, "infra launch") || strings.HasPrefix(op, "infra stop") || strings.HasPrefix(op, "net ")
				}) {
					t.Errorf("a failed update touched the pod itself: %q", ops)
				}
				if after := h.leftovers(); !slices.Equal(after, before) {
					t.Errorf("host after the failure %q, was %q", after, before)
				}
				onDisk, err := readRecord(e.layout.State)
				if err != nil || !manifests.SpecEqual(onDisk.Pod, old) || !manifests.SpecEqual(m.pods[podid.ID("default", "two")].rec.Pod, old) {
					t.Errorf("after the failure the record (%v) or the manager holds a new spec", err)
				}
				if a, b := h.memoryOf("default_two/a"), h.memoryOf("default_two/b"); a != 64*mi || b != 64*mi {
					t.Errorf("limits after the failure a=%d b=%d, want the old 64Mi", a, b)
				}
				if evs := events[len(events)-1]; evs.Type != kube.EventWarning || !strings.Contains(evs.Message, "update in place failed") {
					t.Errorf("last event %+v, want a warning that the update failed", evs)
				}
				if err := m.Apply(context.Background(), replaceAction(old, p)); err != nil {
					t.Fatalf("the update again: %v", err)
				}
				if onDisk, _ := readRecord(e.layout.State); !manifests.SpecEqual(onDisk.Pod, p) {
					t.Error("the repeated update did not record the new spec")
				}
			})
		}
	}
}

// TestUpdateAfterCrash: a daemon that crashed after the infra restarted
// the container but before it wrote the record finds the old spec on
// disk; the new daemon adopts the pod as it is and plans the same update,
// which completes it (the infra leaves alone a container that already has
// its definition).
func TestUpdateAfterCrash(t *testing.T) {
	h := newFakeHost(t.TempDir())
	crashed, old := startTwo(t, h)
	e := crashed.pods[podid.ID("default", "two")]
	p := twoPod(t, changedCommand)
	if err := crashed.Apply(context.Background(), replaceAction(old, p)); err != nil {
		t.Fatal(err)
	}
	// The crash: the record as it was before the update.
	oldRec := *e.rec
	oldRec.Pod = old
	if err := writeRecord(e.layout.State, &oldRec); err != nil {
		t.Fatal(err)
	}
	h.log()
	m := newTestManager(h)
	if err := m.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs, _ := m.ListPods(context.Background())
	acts := reconciler.Plan([]reconciler.Desired{{Key: obs[0].Key, File: "two.yaml", Pod: p}}, nil, obs)
	if len(acts) != 1 || acts[0].Change.Replaces() || !slices.Equal(acts[0].Change.Restarts(), []string{"a"}) {
		t.Fatalf("plan after the crash: %+v, want a restart of a", acts)
	}
	if err := m.Apply(context.Background(), acts[0]); err != nil {
		t.Fatal(err)
	}
	if onDisk, _ := readRecord(e.layout.State); !manifests.SpecEqual(onDisk.Pod, p) || onDisk.InfraPID != oldRec.InfraPID {
		t.Errorf("after the repeated update the record holds %+v", onDisk)
	}
}

// TestUpdateReplacesWhenItCannot: an infra that predates updates, or a
// pod whose create failed, is replaced instead.
func TestUpdateReplacesWhenItCannot(t *testing.T) {
	h := newFakeHost(t.TempDir())
	m, old := startTwo(t, h)
	pid := m.pods[podid.ID("default", "two")].rec.InfraPID
	h.mu.Lock()
	h.oldInfra = true
	h.mu.Unlock()
	p := twoPod(t, changedCommand)
	if err := m.Apply(context.Background(), replaceAction(old, p)); err != nil {
		t.Fatal(err)
	}
	ops := h.log()
	if !slices.Contains(ops, "infra update default/two a (refused)") || !slices.Contains(ops, "infra launch default/two") {
		t.Errorf("an old infra: did %q, want the refused update, then a new pod", ops)
	}
	if got := m.pods[podid.ID("default", "two")].rec; got.InfraPID == pid || !manifests.SpecEqual(got.Pod, p) {
		t.Errorf("after the replace: %+v", got)
	}

	h2 := newFakeHost(t.TempDir())
	m2 := newTestManager(h2)
	if err := m2.Apply(context.Background(), replaceAction(old, p)); err != nil {
		t.Fatal(err)
	}
	if ops := h2.log(); !slices.Contains(ops, "infra launch default/two") {
		t.Errorf("no pod running: did %q, want a create", ops)
	}
}

// TestPlanLimits: the pod cgroup goes first with the looser limits, a
// restarted container whose limits tighten keeps the looser ones until its
// old run ended, and what tightens is written last, containers first.
func TestPlanLimits(t *testing.T) {
	limits := func(a, b, cpuA string) *manifests.Pod {
		p := twoPod(t, nil)
		for i, v := range []string{a, b} {
			if v == "" {
				delete(p.Spec.Containers[i].Resources.Limits, "memory")
			} else {
				p.Spec.Containers[i].Resources.Limits["memory"] = manifests.MustParseQuantity(v)
			}
		}
		if cpuA != "" {
			p.Spec.Containers[0].Resources.Limits["cpu"] = manifests.MustParseQuantity(cpuA)
			p.Spec.Containers[1].Resources.Limits["cpu"] = manifests.MustParseQuantity("1")
		}
		return p
	}
	// render is a plan as "pod=<memory MiB>/<cpu quota>" or "a=...".
	render := func(ws []limitWrite) string {
		var out []string
		for _, w := range ws {
			name := w.ctr
			if name == "" {
				name = "pod"
			}
			out = append(out, fmt.Sprintf("%s=%d/%d", name, w.res.MemoryMax>>20, w.res.CPUQuota))
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name          string
		old, new      *manifests.Pod
		names         []string
		restart       []string
		before, after string
	}{
		{"unchanged, restarted", limits("64Mi", "64Mi", ""), limits("64Mi", "64Mi", ""), []string{"a"}, []string{"a"},
			"pod=144/0 a=64/0", ""},
		{"raised, live", limits("64Mi", "64Mi", ""), limits("128Mi", "64Mi", ""), []string{"a"}, nil,
			"pod=208/0 a=128/0", ""},
		{"lowered, restarted", limits("64Mi", "64Mi", ""), limits("32Mi", "64Mi", ""), []string{"a"}, []string{"a"},
			"pod=144/0 a=64/0", "a=32/0 pod=112/0"},
		{"a limit removed: the pod's goes too", limits("64Mi", "64Mi", ""), limits("", "64Mi", ""), []string{"a"}, []string{"a"},
			"pod=0/0 a=0/0", ""},
		{"a limit set where there was none", limits("", "64Mi", ""), limits("64Mi", "64Mi", ""), []string{"a"}, []string{"a"},
			"pod=0/0 a=0/0", "a=64/0 pod=144/0"},
		{"cpu quota raised, live: the pod's first", limits("64Mi", "64Mi", "500m"), limits("64Mi", "64Mi", "1"), []string{"a"}, nil,
			"pod=144/200000 a=64/100000", ""},
		{"cpu quota lowered, live: the pod's last", limits("64Mi", "64Mi", "1"), limits("64Mi", "64Mi", "500m"), []string{"a"}, nil,
			"pod=144/200000 a=64/50000", "pod=144/150000"},
		{"b's raise beside a's restart", limits("64Mi", "64Mi", ""), limits("32Mi", "128Mi", ""), []string{"a", "b"}, []string{"a"},
			"pod=176/0 a=64/0 b=128/0", "a=32/0"},
	}
	for _, tt := range tests {
		lp, err := planLimits(tt.old, tt.new, tt.names, tt.restart)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if b, a := render(lp.before), render(lp.after); b != tt.before || a != tt.after {
			t.Errorf("%s: before %q after %q; want %q, %q", tt.name, b, a, tt.before, tt.after)
		}
	}
}

func TestLoosest(t *testing.T) {
	r := func(mem, quota int64) cgroups.Resources {
		return cgroups.Resources{MemoryMax: mem, CPUQuota: quota, CPUPeriod: cgroups.QuotaPeriod, PidsMax: 1024}
	}
	tests := []struct{ a, b, want cgroups.Resources }{
		{r(10, 5), r(20, 3), r(20, 5)},
		{r(0, 5), r(20, 0), r(0, 0)},
		{r(10, 5), r(10, 5), r(10, 5)},
	}
	for _, tt := range tests {
		if got := loosest(tt.a, tt.b); got != tt.want {
			t.Errorf("loosest(%+v, %+v) = %+v, want %+v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestProbesChanged(t *testing.T) {
	probe := &manifests.Probe{ProbeHandler: manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.IntOrString{IntVal: 80}}}}
	withProbe := twoPod(t, func(p *manifests.Pod) { p.Spec.Containers[0].ReadinessProbe = probe })
	tests := []struct {
		name     string
		old, new *manifests.Pod
		restart  []string
		want     bool
	}{
		{"command only", twoPod(t, nil), twoPod(t, changedCommand), []string{"a"}, false},
		{"probe added", twoPod(t, nil), withProbe, []string{"a"}, true},
		{"ports of a restarted container", twoPod(t, nil), twoPod(t, func(p *manifests.Pod) {
			p.Spec.Containers[1].Ports = []manifests.ContainerPort{{ContainerPort: 80}}
		}), []string{"b"}, true},
		{"nothing restarted", twoPod(t, nil), twoPod(t, raisedMemory), nil, false},
	}
	for _, tt := range tests {
		if got := probesChanged(tt.old, tt.new, tt.restart); got != tt.want {
			t.Errorf("%s: probesChanged = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestUpdateCrashAfterEachStep stops the daemon after each step of an
// update (no undo runs; the infra outlives it) and starts a new Manager on
// the same host: it adopts the pod on its infra with the spec its record
// holds, and the update the next pass plans brings the pod to the new
// spec (the infra takes a repeated definition as done).
func TestUpdateCrashAfterEachStep(t *testing.T) {
	for name, edit := range updateEdits {
		h0 := newFakeHost(t.TempDir())
		m0, old0 := startTwo(t, h0)
		p0 := twoPod(t, edit)
		n := len(m0.updateSteps(newPodUpdate(t, m0, old0, p0)))
		for k := 0; k <= n; k++ {
			t.Run(fmt.Sprintf("%s/after %d steps", name, k), func(t *testing.T) {
				h := newFakeHost(t.TempDir())
				crashed, old := startTwo(t, h)
				pid := crashed.pods[podid.ID("default", "two")].rec.InfraPID
				p := twoPod(t, edit)
				steps := crashed.updateSteps(newPodUpdate(t, crashed, old, p))
				if err := newRunner(nil).run(context.Background(), steps[:k]); err != nil {
					t.Fatal(err)
				}
				h.log()
				m := newTestManager(h)
				if err := m.Recover(context.Background()); err != nil {
					t.Fatal(err)
				}
				obs, _ := m.ListPods(context.Background())
				if len(obs) != 1 || obs[0].UID == "" {
					t.Fatalf("after the crash: %+v", obs)
				}
				acts := reconciler.Plan([]reconciler.Desired{{Key: obs[0].Key, File: "two.yaml", Pod: p}}, nil, obs)
				for _, a := range acts {
					if err := m.Apply(context.Background(), a); err != nil {
						t.Fatal(err)
					}
				}
				e := m.pods[podid.ID("default", "two")]
				if e == nil || e.rec.InfraPID != pid || !manifests.SpecEqual(e.rec.Pod, p) {
					t.Fatalf("after the next pass: %+v, want the new spec on infra %d", e, pid)
				}
				if onDisk, err := readRecord(e.layout.State); err != nil || !manifests.SpecEqual(onDisk.Pod, p) {
					t.Errorf("record on disk: %v", err)
				}
				if ops := h.log(); slices.ContainsFunc(ops, func(op string) bool { return strings.HasPrefix(op, "infra launch") }) {
					t.Errorf("the pod was replaced: %q", ops)
				}
			})
		}
	}
}

// newPodUpdate is the update of the running pod old to new, as
// Manager.update prepares it.
func newPodUpdate(t *testing.T, m *Manager, old, new *manifests.Pod) *podUpdate {
	t.Helper()
	id := podid.ID(new.Namespace, new.Name)
	u, err := newUpdate(id, m.pods[id], &reconciler.Desired{Pod: new, File: "two.yaml"}, reconciler.DiffSpec(old, new), rollout{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUpdateToAnImageItCannotHave: a container's new image being pulled
// keeps the old containers running (the update is retried); one that
// cannot be had replaces the pod, whose create fails with the image's
// reason, as on a kubelet, for the rollout gate to judge.
func TestUpdateToAnImageItCannotHave(t *testing.T) {
	for _, tc := range []struct {
		reason   string
		replaced bool
	}{
		{kube.ReasonContainerCreating, false},
		{kube.ReasonErrImagePull, true},
		{kube.ReasonImageNotFound, true},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			m, old := startTwo(t, h)
			t.Cleanup(func() { m.Apply(context.Background(), deleteAction(old)) })
			pid := m.pods[podid.ID("default", "two")].rec.InfraPID
			p := twoPod(t, func(p *manifests.Pod) { p.Spec.Containers[0].Image = "berth.test/demo:2" })
			h.pulls["berth.test/demo:2"] = tc.reason
			err := m.Apply(context.Background(), replaceAction(old, p))
			if err == nil || failureReason(err) != tc.reason {
				t.Fatalf("update: %v, want a failure with reason %s", err, tc.reason)
			}
			e, running := m.pods[podid.ID("default", "two")]
			if kept := running && e.rec.InfraPID == pid && manifests.SpecEqual(e.rec.Pod, old); kept == tc.replaced {
				t.Errorf("old pod kept running: %v, want %v", kept, !tc.replaced)
			}
		})
	}
}
