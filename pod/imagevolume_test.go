package pod

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

const toolsYAML = `apiVersion: v1
kind: Pod
metadata:
  name: tools
spec:
  volumes:
  - name: tools
    image:
      reference: berth.test/tools:1
      pullPolicy: Never
  containers:
  - name: app
    image: berth.test/demo:1
    volumeMounts:
    - name: tools
      mountPath: /opt/tools
    - name: tools
      mountPath: /opt/bin
      subPath: bin
`

func toolsPod(t *testing.T) *manifests.Pod {
	t.Helper()
	f := manifests.Parse("tools.yaml", []byte(toolsYAML))
	if ps := f.Problems(); len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	return f.Docs[0].Pod
}

// TestImageVolume: an image volume's image is resolved by the volume's
// pullPolicy in the images step, its layers mounted in the volumes step,
// its ID recorded (image GC spares it), every mount of it read-only, and
// the teardown leaves nothing.
func TestImageVolume(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	m := newTestManager(h)
	p := toolsPod(t)
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"image resolve default/tools berth.test/demo:1 IfNotPresent",
		"image resolve default/tools berth.test/tools:1 Never",
		"volumes prepare state/pods/default_tools/volumes",
		"volumes mount-image state/pods/default_tools/volumes/image/tools /images/layers/1d",
	}
	if got := h.log(); !isSubsequence(want, got) {
		t.Errorf("create did\n  %s\nwant in order\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	e := m.pods[podid.ID(p.Namespace, p.Name)]
	if e == nil || e.rec.VolumeImageIDs["tools"] != "sha256:1d" {
		t.Fatalf("record: %+v, want the volume's image ID", e)
	}
	inUse, err := ImagesInUse(h.config().StateDir)
	if err != nil || !inUse["sha256:1d"] {
		t.Errorf("images in use %v, %v: want the volume's", inUse, err)
	}
	ctrs := h.procs[e.rec.InfraPID].ctrs
	if len(ctrs) != 1 {
		t.Fatalf("started %d containers", len(ctrs))
	}
	var seen []string
	for _, mt := range ctrs[0].Init.Mounts {
		if !strings.HasSuffix(mt.Source, "/volumes/image/tools") {
			continue
		}
		seen = append(seen, mt.Target+":"+mt.SubPath)
		if !slices.Contains(mt.Options, "ro") || !slices.Contains(mt.Options, "nodev") || !slices.Contains(mt.Options, "nosuid") {
			t.Errorf("mount at %s has options %v, want ro, nosuid, nodev", mt.Target, mt.Options)
		}
	}
	if !slices.Equal(seen, []string{"/opt/tools:", "/opt/bin:bin"}) {
		t.Errorf("image volume mounts %v", seen)
	}
	h.log()
	if err := m.Apply(ctx, deleteAction(p)); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, h)
}

// TestImageVolumeNeverPulled: a volume whose image is missing under
// pullPolicy Never fails the create at the images step with the kubelet's
// reason, ErrImageNeverPull, naming the volume; nothing is made.
func TestImageVolumeNeverPulled(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	cfg := h.config()
	cfg.Log = slog.New(slog.DiscardHandler)
	m := NewManager(cfg)
	p := toolsPod(t)
	h.pulls["berth.test/tools:1"] = kube.ReasonImageNotFound
	err := m.Apply(ctx, createAction(p))
	if err == nil || failureReason(err) != "ErrImageNeverPull" || !strings.Contains(err.Error(), "volume tools: ") {
		t.Fatalf("create: %v, want ErrImageNeverPull for volume tools", err)
	}
	for _, op := range h.log() {
		if !strings.HasPrefix(op, "image resolve ") {
			t.Errorf("a pod without its volume's image did %q", op)
		}
	}
	checkEmpty(t, h)
	pods := m.Pods(ctx)
	if len(pods) != 1 || pods[0].Phase != kube.PodPending || pods[0].Reason != "ErrImageNeverPull" {
		t.Fatalf("status: %+v, want Pending with reason ErrImageNeverPull", pods)
	}
}

// TestImageVolumeFailuresAndCrashes: a create of a pod with an image
// volume that fails at any host operation, the volume's mount included,
// leaves the host empty; so does Recover after a crash after any step,
// unless the containers were started, when it adopts the pod, whose
// removal then leaves the host empty.
func TestImageVolumeFailuresAndCrashes(t *testing.T) {
	h := newFakeHost(t.TempDir())
	if err := newTestManager(h).Apply(context.Background(), createAction(toolsPod(t))); err != nil {
		t.Fatal(err)
	}
	ops := h.log()
	if !slices.ContainsFunc(ops, func(op string) bool { return strings.HasPrefix(op, "volumes mount-image ") }) {
		t.Fatalf("create did %q, without the image volume's mount", ops)
	}
	for k := 1; k <= len(ops); k++ {
		t.Run("failing at "+ops[k-1], func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			m := newTestManager(h)
			h.failOn = ops[k-1]
			if err := m.Apply(context.Background(), createAction(toolsPod(t))); err == nil || !strings.Contains(err.Error(), ops[k-1]+" failed") {
				t.Fatalf("create: %v, want the failure of %q", err, ops[k-1])
			}
			checkEmpty(t, h)
		})
	}
	all := newTestManager(newFakeHost(t.TempDir())).createSteps(&podRun{})
	for k := 1; k <= len(all); k++ {
		whole := slices.ContainsFunc(flatten(all[:k]), func(s step) bool { return s.name == "containers" })
		t.Run("crash after "+all[k-1].name, func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			p := toolsPod(t)
			crashed := newTestManager(h)
			c := &podRun{id: podid.ID(p.Namespace, p.Name), rec: &record{UID: "u1", File: "tools.yaml", Pod: p}, l: crashed.layout(p, "u1")}
			if err := newRunner(nil).run(context.Background(), crashed.createSteps(c)[:k]); err != nil {
				t.Fatal(err)
			}
			m := newTestManager(h)
			if err := m.Recover(context.Background()); err != nil {
				t.Errorf("recover: %v", err)
			}
			if whole {
				if len(m.pods) != 1 {
					t.Fatalf("recover adopted %d pods, want the whole one", len(m.pods))
				}
				if err := m.Apply(context.Background(), deleteAction(p)); err != nil {
					t.Fatal(err)
				}
			}
			m.Forget(func(string, string) bool { return false })
			checkEmpty(t, h)
		})
	}
}
