package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
)

// imageRefV2 is the workload under a second name: the update scenario
// changes a container's image between the two.
const imageRefV2 = "localhost/berth-bench:v2"

// updateYAML is a pod of three containers on an emptyDir whose first
// container runs imageA; grace is the pod's terminationGracePeriodSeconds
// (a pod-level field: changing it replaces the pod).
func updateYAML(name, imageA string, grace int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: %d\n  containers:\n", name, grace)
	container(&b, "a", imageA, `["/bin/demo", "sleep"]`, "shared")
	container(&b, "b", imageRef, `["/bin/demo", "sleep"]`, "shared")
	container(&b, "c", imageRef, `["/bin/demo", "sleep"]`, "shared")
	b.WriteString("  volumes:\n  - name: shared\n    emptyDir: {}\n")
	return b.String()
}

// update measures the change of one container's image in a running pod of
// three, from the edited file written into the manifest directory to the
// new container running: the harness renames the file in and asks the
// daemon for a reconcile pass over its API, which returns once the pass
// is done (an in-place restart once the infra started the new run, a
// replace once the new pod's containers started). Interleaved: berth
// restarting that container in place, berth replacing the same pod (the
// same edit plus a pod-level one, as every spec edit was handled before
// in-place updates), and `podman kube play --replace` of the same YAML
// (its own command: podman has no manifest directory). After each berth
// update it checks what was touched: in place, only that container (the
// infra and the other two keep their PIDs); replaced, a new pod.
func (bn *bench) update() (*Scenario, error) {
	s := &Scenario{Name: "update-1-of-3", Unit: "ms"}
	if _, err := bn.b.cli("image", "import", "--rootfs", bn.e.rootfs, imageRefV2); err != nil {
		return nil, fmt.Errorf("import the workload as %s: %w", imageRefV2, err)
	}
	if bn.p != nil {
		if _, err := bn.p.cmd("import", bn.e.rootfsTar, imageRefV2); err != nil {
			return nil, fmt.Errorf("import the workload into podman as %s: %w", imageRefV2, err)
		}
	}
	write := func(file, name, img string, grace int) (string, error) {
		return bn.writeFile(file, updateYAML(name, img, grace))
	}
	inPlace, err := write("update.yaml", "update", imageRef, 10)
	if err != nil {
		return nil, err
	}
	replaced, err := write("update-replace.yaml", "update-replace", imageRef, 10)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{inPlace, replaced} {
		if _, err := bn.b.cli("apply", "-f", f, "--timeout", "60s"); err != nil {
			return nil, err
		}
		defer bn.b.cli("delete", "-f", f, "--timeout", "60s")
	}
	podmanFile, err := write("update-podman.yaml", "update-podman", imageRef, 10)
	if err != nil {
		return nil, err
	}
	if bn.p != nil {
		if _, err := bn.p.cmd("kube", "play", podmanFile); err != nil {
			return nil, err
		}
		defer bn.p.cmd("kube", "down", podmanFile)
	}
	first, err := bn.b.client().Pod(context.Background(), "default", "update")
	if err != nil {
		return nil, err
	}
	bn.b.timings()
	var phases []podTiming
	for i := 0; i < bn.warmup+bn.n; i++ {
		keep := i >= bn.warmup
		img := []string{imageRefV2, imageRef}[i%2]
		if err := waitWorkloadsHandleSIGTERM(10 * time.Second); err != nil {
			return nil, err
		}
		t, err := bn.writeAndReconcile("update.yaml", updateYAML("update", img, 10))
		if err != nil {
			return nil, fmt.Errorf("update in place: %w", err)
		}
		if err := bn.checkInPlace(first, i+1, img); err != nil {
			return nil, err
		}
		if ts := bn.b.timingsOf("pod updated in place"); keep {
			s.add("berth", t)
			phases = append(phases, ts...)
		}

		if err := waitWorkloadsHandleSIGTERM(10 * time.Second); err != nil {
			return nil, err
		}
		before, err := bn.b.client().Pod(context.Background(), "default", "update-replace")
		if err != nil {
			return nil, err
		}
		if t, err = bn.writeAndReconcile("update-replace.yaml", updateYAML("update-replace", img, 10+(i+1)%2)); err != nil {
			return nil, fmt.Errorf("update by replace: %w", err)
		}
		after, err := bn.b.client().Pod(context.Background(), "default", "update-replace")
		if err != nil || after.Metadata.UID == before.Metadata.UID {
			return nil, fmt.Errorf("the pod-level edit did not replace the pod (%v)", err)
		}
		if keep {
			s.add("berth-replace", t)
		}

		bn.b.timings()
		if bn.p == nil {
			continue
		}
		if err := waitWorkloadsHandleSIGTERM(10 * time.Second); err != nil {
			return nil, err
		}
		if _, err := write("update-podman.yaml", "update-podman", img, 10); err != nil {
			return nil, err
		}
		if t, err = bn.p.timed("kube", "play", "--replace", podmanFile); err != nil {
			return nil, fmt.Errorf("podman kube play --replace: %w", err)
		}
		if keep {
			s.add("podman", t)
		}
	}
	notePhases(s, phases)
	return s, nil
}

// writeAndReconcile writes content as the manifest directory's file name
// (a rename, as an editor or a configuration tool does) and returns, in
// milliseconds, how long until the reconcile pass it asks for is done.
func (bn *bench) writeAndReconcile(name, content string) (float64, error) {
	tmp := filepath.Join(bn.b.dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := os.Rename(tmp, filepath.Join(bn.b.manifests, name)); err != nil {
		return 0, err
	}
	if err := bn.b.client().Reconcile(context.Background()); err != nil {
		return 0, fmt.Errorf("reconcile: %w\ndaemon log tail:\n%s", err, tail(bn.b.out.String(), 20))
	}
	return ms(time.Since(t0)), nil
}

// checkInPlace checks that the in-place pod still is the pod first was,
// with container a at its restarts-th restart on img, and b and c in
// their first run.
func (bn *bench) checkInPlace(first api.Pod, restarts int, img string) error {
	p, err := bn.b.client().Pod(context.Background(), "default", "update")
	if err != nil {
		return err
	}
	if p.Metadata.UID != first.Metadata.UID || p.InfraPID() != first.InfraPID() {
		return fmt.Errorf("the in-place update replaced the pod")
	}
	for i, c := range p.Status.ContainerStatuses {
		want := 0
		if c.Name == "a" {
			want = restarts
		}
		ok := c.State.Running != nil && int(c.RestartCount) == want
		if c.Name == "a" {
			ok = ok && c.Image == img
		} else {
			ok = ok && c.ContainerID == first.Status.ContainerStatuses[i].ContainerID
		}
		if !ok {
			return fmt.Errorf("after in-place update %d container %s is %+v, want %d restarts", restarts, c.Name, c, want)
		}
	}
	return nil
}
