package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

func newDiffCmd(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR|-",
		Short: "Show what applying manifests would do to each pod: create, replace, update, delete, unchanged",
		Long: `Show what applying manifests would do to each pod, and why (the fields that
differ), compared with the pods the running daemon reports, or with the
manifest directory's files when no daemon answers.

Exit status: 0 when nothing would change, 1 when something would, 2 or
more on error (as kubectl diff).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ins, err := readInputs(files, cmd.InOrStdin())
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if err := checkInputs(cmd.ErrOrStderr(), g, ins); err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			pv, err := previewApply(cmd.Context(), g, ins)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			pv.render(cmd.OutOrStdout())
			if len(pv.actions) > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory, or - for stdin")
	cmd.MarkFlagRequired("filename")
	return cmd
}

// checkInputs refuses inputs that apply would refuse: problems in the
// manifests, or pods another file of the manifest directory declares.
func checkInputs(stderr io.Writer, g *globals, ins []input) error {
	var problems []manifests.Problem
	for _, in := range ins {
		problems = append(problems, in.file.Problems()...)
	}
	if reportProblems(stderr, problems) {
		return errors.New("nothing applied: fix the problems above")
	}
	return checkOwnership(g.manifests, ins)
}

// preview is what applying the inputs would do, as the reconciler would
// plan it.
type preview struct {
	against   string // what the inputs were compared with
	actions   []reconciler.Action
	unchanged []reconciler.PodKey
}

// daemonTimeout bounds the question to the daemon.
const daemonTimeout = 10 * time.Second

// previewApply plans the inputs against the pods the daemon runs, or,
// when no daemon answers, against the manifest directory's files. Only
// the pods the inputs declare, and those their files declared before,
// count: apply leaves the directory's other files alone.
func previewApply(ctx context.Context, g *globals, ins []input) (preview, error) {
	var pv preview
	var desired []reconciler.Desired
	dests := map[string]bool{}
	want := map[reconciler.PodKey]bool{}
	for _, in := range ins {
		dest := filepath.Join(g.manifests, in.name)
		dests[dest] = true
		for _, d := range in.file.Docs {
			if d.Pod == nil {
				continue
			}
			k := reconciler.PodKey{Namespace: d.Pod.Namespace, Name: d.Pod.Name}
			want[k] = true
			desired = append(desired, reconciler.Desired{Key: k, File: dest, Pod: d.Pod})
		}
	}
	current, against, err := currentPods(ctx, g)
	if err != nil {
		return pv, err
	}
	pv.against = against
	var observed []reconciler.Observed
	for _, o := range current {
		if want[o.Key] || dests[o.File] {
			observed = append(observed, o)
		}
	}
	pv.actions = reconciler.Plan(desired, nil, observed)
	acted := map[reconciler.PodKey]bool{}
	for _, a := range pv.actions {
		acted[a.Key] = true
	}
	for k := range want {
		if !acted[k] {
			pv.unchanged = append(pv.unchanged, k)
		}
	}
	slices.SortFunc(pv.unchanged, func(a, b reconciler.PodKey) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return pv, nil
}

// currentPods are the pods the daemon reports, or the manifest
// directory's pods when no daemon listens on the socket.
func currentPods(ctx context.Context, g *globals) ([]reconciler.Observed, string, error) {
	ctx, cancel := context.WithTimeout(ctx, daemonTimeout)
	defer cancel()
	pods, err := api.NewClient(g.socket).Pods(ctx)
	var op *net.OpError
	switch {
	case err == nil:
		return daemonPods(pods), "the pods the running daemon reports", nil
	case errors.As(err, &op) && op.Op == "dial":
		obs, err := filePods(g.manifests)
		if err != nil {
			return nil, "", err
		}
		return obs, "the files of " + g.manifests + " (no daemon answers at " + g.socket + ")", nil
	}
	return nil, "", fmt.Errorf("list the daemon's pods: %w", err)
}

// daemonPods turns the daemon's view into the reconciler's; terminating
// pods are on their way out, as the reconciler sees them.
func daemonPods(pods []api.Pod) []reconciler.Observed {
	out := make([]reconciler.Observed, 0, len(pods))
	for _, p := range pods {
		m := &manifests.Pod{
			TypeMeta:   manifests.TypeMeta{APIVersion: p.APIVersion, Kind: p.Kind},
			ObjectMeta: p.Metadata.ObjectMeta,
			Spec:       p.Spec,
		}
		// The annotations the daemon adds are not the manifest's.
		m.Annotations = maps.Clone(m.Annotations)
		delete(m.Annotations, api.AnnotationFile)
		delete(m.Annotations, api.AnnotationInfraPID)
		if len(m.Annotations) == 0 {
			m.Annotations = nil
		}
		out = append(out, reconciler.Observed{
			Key:         reconciler.PodKey{Namespace: m.Namespace, Name: m.Name},
			UID:         m.UID,
			File:        p.File(),
			Pod:         m,
			Terminating: p.Status.Reason == kube.ReasonTerminating,
		})
	}
	return out
}

// filePods are the pods the daemon would run from the manifest directory:
// those of valid files, duplicates resolved as the daemon resolves them.
func filePods(dir string) ([]reconciler.Observed, error) {
	snap, err := manifestdir.Load(dir)
	if err != nil {
		return nil, err
	}
	out := make([]reconciler.Observed, 0, len(snap.Pods))
	for _, d := range snap.Pods {
		out = append(out, reconciler.Observed{Key: d.Key, UID: d.File, File: d.File, Pod: d.Pod})
	}
	return out, nil
}

// render prints the preview, one block per pod: what berth will do, then
// the fields that differ. An update confined to containers says which
// restart and which are resized live, inside the running pod.
func (pv preview) render(w io.Writer) {
	fmt.Fprintf(w, "compared with %s\n", pv.against)
	for _, a := range pv.actions {
		c := a.Change
		switch {
		case a.Kind == reconciler.Replace && !c.Replaces():
			fmt.Fprintf(w, "pod %s: update in place (the pod and its other containers keep running)\n", a.Key)
			for _, cc := range c.Containers {
				how := "restart " + cc.Name
				if cc.Live {
					how = "resize " + cc.Name + " live"
				}
				fmt.Fprintf(w, "  %s: %s\n", how, strings.Join(cc.Fields, ", "))
			}
			if len(c.Metadata) > 0 {
				fmt.Fprintf(w, "  metadata: %s\n", strings.Join(c.Metadata, ", "))
			}
		case a.Kind == reconciler.Replace:
			why := "the change reaches the pod"
			if len(c.Why) > 0 {
				why = strings.Join(c.Why, "; ")
			}
			fmt.Fprintf(w, "pod %s: replace (%s)\n", a.Key, why)
			for _, f := range c.Fields() {
				fmt.Fprintf(w, "  %s\n", f)
			}
		case a.Kind == reconciler.UpdateMetadata:
			fmt.Fprintf(w, "pod %s: update (%s; nothing restarts)\n", a.Key, a.Reason)
			for _, f := range c.Metadata {
				fmt.Fprintf(w, "  %s\n", f)
			}
		default:
			fmt.Fprintf(w, "pod %s: %s (%s)\n", a.Key, a.Kind, a.Reason)
		}
	}
	for _, k := range pv.unchanged {
		fmt.Fprintf(w, "pod %s: unchanged\n", k)
	}
}
