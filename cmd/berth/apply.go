package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
)

// input is one manifest file given to apply or delete.
type input struct {
	name string // base name it gets in the manifest directory
	data []byte
	file *manifests.File
}

func newApplyCmd(g *globals) *cobra.Command {
	var files []string
	var wait, dryRun bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Validate manifests, place them in the manifest directory and wait for their pods to run (and be Ready)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ins, err := readInputs(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			if err := checkInputs(cmd.ErrOrStderr(), g, ins); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if dryRun {
				pv, err := previewApply(cmd.Context(), g, ins)
				if err != nil {
					return err
				}
				pv.render(cmd.OutOrStdout())
				return nil
			}
			if err := os.MkdirAll(g.manifests, 0o755); err != nil {
				return fmt.Errorf("create manifest directory: %w", err)
			}
			var placed []*atomicfile.Placed
			for _, in := range ins {
				dst := filepath.Join(g.manifests, in.name)
				old, _ := os.ReadFile(dst)
				verb := "created"
				if old != nil {
					verb = "configured"
					if string(old) == string(in.data) {
						verb = "unchanged"
					}
				}
				p, err := atomicfile.Place(dst, in.data, 0o644)
				if err != nil {
					return errors.Join(err, syncManifests(placed))
				}
				placed = append(placed, p)
				for _, k := range podKeys(in.file) {
					fmt.Fprintf(cmd.OutOrStdout(), "pod/%s %s\n", k.Name, verb)
				}
			}
			// The daemon reads the files from the page cache: its pass
			// starts while they are made durable, and apply reports
			// success only once both are done.
			synced := make(chan error, 1)
			go func() { synced <- syncManifests(placed) }()
			c := api.NewClient(g.socket)
			var keys []api.PodKey
			for _, in := range ins {
				keys = append(keys, podKeys(in.file)...)
			}
			passed, err := c.ReconcileFor(cmd.Context(), keys)
			if err == nil && wait {
				err = waitRunning(cmd.Context(), c, ins, passed, timeout)
			}
			return errors.Join(<-synced, err)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory, or - for stdin")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the pods run, and those with a readiness probe are Ready (or say why they do not)")
	cmd.Flags().DurationVar(&timeout, "timeout", waitTimeout, "how long to wait")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only print what would change, as berth diff does")
	cmd.MarkFlagRequired("filename")
	return cmd
}

// syncPlaced makes one placed manifest durable (a variable for tests).
var syncPlaced = (*atomicfile.Placed).Sync

// syncManifests makes the placed manifests durable.
func syncManifests(placed []*atomicfile.Placed) error {
	var errs []error
	for _, p := range placed {
		if err := syncPlaced(p); err != nil {
			errs = append(errs, fmt.Errorf("the manifest may not survive a power loss: %w", err))
		}
	}
	return errors.Join(errs...)
}

// waitRunning waits for every pod the inputs declare to settle, and for
// one with a readiness probe to be Ready, and fails with the reason of any
// that did not get there. passed is what the reconcile pass answered: a
// pod that arrived there is not asked for again.
func waitRunning(ctx context.Context, c *api.Client, ins []input, passed []api.PodBrief, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var failed []string
	for _, in := range ins {
		for _, k := range podKeys(in.file) {
			if arrived(passed, k) {
				continue
			}
			p, timedOut, err := c.WaitSettled(ctx, k.Namespace, k.Name, time.Until(deadline))
			probed := err == nil && p.Status.Phase == api.PodRunning && api.HasReadinessProbe(p)
			if probed && !timedOut {
				p, timedOut, err = waitReady(ctx, c, k, p, deadline)
			}
			if err != nil {
				return fmt.Errorf("wait for pod %s/%s: %w", k.Namespace, k.Name, err)
			}
			status := api.DisplayStatus(p)
			switch {
			case api.Brief(p).Arrived():
				continue
			case probed && p.Status.Phase == api.PodRunning && !api.IsReady(p):
				if timedOut {
					failed = append(failed, fmt.Sprintf("pod/%s: not Ready after %s%s", k.Name, timeout, notReady(ctx, c, p)))
				} else {
					failed = append(failed, fmt.Sprintf("pod/%s: %s%s", k.Name, status, why(p)))
				}
			case timedOut:
				failed = append(failed, fmt.Sprintf("pod/%s: still %s after %s", k.Name, status, timeout))
			default:
				failed = append(failed, fmt.Sprintf("pod/%s: %s%s", k.Name, status, why(p)))
			}
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	return nil
}

// arrived says whether pod k arrived (api.PodBrief.Arrived) in the pass's
// answer.
func arrived(passed []api.PodBrief, k api.PodKey) bool {
	for _, b := range passed {
		if b.Namespace == k.Namespace && b.Name == k.Name {
			return b.Arrived()
		}
	}
	return false
}

// readyPoll is how often apply asks whether a pod with a readiness probe
// is Ready yet. It asks with plain GETs, which every daemon answers, not
// with a wait mode an older daemon would not know.
const readyPoll = 50 * time.Millisecond

// waitReady waits, from p, until pod k is api.ReadySettled or the deadline
// passes; timedOut tells which.
func waitReady(ctx context.Context, c *api.Client, k api.PodKey, p api.Pod, deadline time.Time) (_ api.Pod, timedOut bool, err error) {
	for !api.ReadySettled(p) {
		wait := time.Until(deadline)
		if wait <= 0 {
			return p, true, nil
		}
		t := time.NewTimer(min(readyPoll, wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return p, false, ctx.Err()
		case <-t.C:
		}
		if p, err = c.Pod(ctx, k.Namespace, k.Name); err != nil {
			return p, false, err
		}
	}
	return p, false, nil
}

// notReady names the containers of p whose readiness probe has not
// succeeded, each with its probe's last failure (its last Unhealthy event
// of a readiness probe), as ": container web: Readiness probe failed:
// ...".
func notReady(ctx context.Context, c *api.Client, p api.Pod) string {
	probed := api.ReadinessProbed(p)
	events, _ := c.Events(ctx, time.Time{}, api.PodObject(p.Metadata.Namespace, p.Metadata.Name))
	last := map[string]string{}
	for _, e := range events {
		if e.Reason == api.EventUnhealthy && strings.HasPrefix(e.Message, "Readiness probe") {
			last[e.Container] = e.Message
		}
	}
	var out strings.Builder
	for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if s.Ready || !slices.Contains(probed, s.Name) {
			continue
		}
		msg, ok := last[s.Name]
		if !ok {
			msg = "its readiness probe has not succeeded yet"
		}
		fmt.Fprintf(&out, ": container %s: %s", s.Name, msg)
	}
	return out.String()
}

// why is the first explanation a pod's status holds.
func why(p api.Pod) string {
	if p.Status.Message != "" {
		return ": " + p.Status.Message
	}
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if c.State.Waiting != nil && c.State.Waiting.Message != "" {
			return fmt.Sprintf(": container %s: %s", c.Name, c.State.Waiting.Message)
		}
		if t := c.State.Terminated; t != nil && t.Message != "" {
			return fmt.Sprintf(": container %s: %s", c.Name, t.Message)
		}
		if t := c.LastState.Terminated; t != nil {
			return fmt.Sprintf(": container %s last exited %d (%s)", c.Name, t.ExitCode, t.Reason)
		}
	}
	return ""
}

func podKeys(f *manifests.File) []api.PodKey {
	var out []api.PodKey
	for _, d := range f.Docs {
		if d.Pod != nil {
			out = append(out, api.PodKey{Namespace: d.Pod.Namespace, Name: d.Pod.Name})
		}
	}
	return out
}

// readInputs reads -f arguments: files, directories (the files in them that
// the daemon would count), or "-" for standard input.
func readInputs(args []string, stdin io.Reader) ([]input, error) {
	var ins []input
	for _, a := range args {
		if a == "-" {
			data, err := io.ReadAll(io.LimitReader(stdin, maxManifest+1))
			if err != nil {
				return nil, fmt.Errorf("read standard input: %w", err)
			}
			f := manifests.Parse("<stdin>", data)
			ins = append(ins, input{name: stdinName(f), data: data, file: f})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		paths := []string{a}
		if st.IsDir() {
			if paths, err = countedFiles(a); err != nil {
				return nil, err
			}
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			ins = append(ins, input{name: filepath.Base(p), data: data, file: manifests.Parse(p, data)})
		}
	}
	return ins, nil
}

// maxManifest bounds what apply reads from standard input.
const maxManifest = 8 << 20

// stdinName names a manifest read from standard input after its first object.
func stdinName(f *manifests.File) string {
	for _, d := range f.Docs {
		switch {
		case d.Pod != nil:
			return podid.KernelID(podid.ID(d.Pod.Namespace, d.Pod.Name)) + ".yaml"
		case d.ConfigMap != nil:
			return "configmap_" + d.ConfigMap.Namespace + "_" + d.ConfigMap.Name + ".yaml"
		case d.Secret != nil:
			return "secret_" + d.Secret.Namespace + "_" + d.Secret.Name + ".yaml"
		case d.Claim != nil:
			return "pvc_" + d.Claim.Namespace + "_" + d.Claim.Name + ".yaml"
		}
	}
	return "stdin.yaml"
}

func countedFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if !manifestdir.Counts(e.Name()) {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkOwnership refuses to place a file whose pods another file in the
// manifest directory already declares: the daemon would keep the other one
// and report this one as a duplicate.
func checkOwnership(dir string, ins []input) error {
	owners := map[api.PodKey]string{}
	files, err := countedFiles(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, p := range files {
		f, err := manifests.ParseFile(p)
		if err != nil {
			continue
		}
		for _, k := range podKeys(f) {
			owners[k] = filepath.Base(p)
		}
	}
	for _, in := range ins {
		for _, k := range podKeys(in.file) {
			if o, ok := owners[k]; ok && o != in.name {
				return fmt.Errorf("pod %s/%s is already declared by %s: delete that file first (berth delete -f) or apply it instead",
					k.Namespace, k.Name, filepath.Join(dir, o))
			}
		}
	}
	return nil
}
