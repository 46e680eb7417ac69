package daemon

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/metrics"
	"github.com/berth-project/berth/pod"
	"github.com/berth-project/berth/reconciler"
)

// backend serves the API from the manager, the reconciler and the latest
// view of the manifest directory.
type backend struct {
	mgr    *pod.Manager
	rec    *reconciler.Reconciler
	loader *manifestdir.Loader
	events *eventLog
	// logDir is the daemon's container log directory (Config.LogDir).
	logDir string
	// problems is only used from the reconcile loop (OnPass).
	problems problemTracker
	// recovered is closed once the manager re-attached to the pods that
	// run: the socket is open before, and requests wait for it.
	recovered chan struct{}
	metrics   *metrics.Metrics
}

// waitRecovered holds a request until recovery is over: the pod list is
// complete then, and a reconcile pass cannot race the re-attaching.
func (b *backend) waitRecovered(ctx context.Context) error {
	select {
	case <-b.recovered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	_ api.Backend        = (*backend)(nil)
	_ api.MetricsBackend = (*backend)(nil)
)

func (b *backend) Pods(ctx context.Context) ([]api.Pod, error) {
	if err := b.waitRecovered(ctx); err != nil {
		return nil, err
	}
	pods := apiPods(b.mgr.Pods(ctx))
	return withManifestProblems(pods, b.loader.Latest()), nil
}

// Events merges the daemon's events with those the infras keep.
func (b *backend) Pod(ctx context.Context, namespace, name string) (api.Pod, bool, error) {
	if err := b.waitRecovered(ctx); err != nil {
		return api.Pod{}, false, err
	}
	var pods []api.Pod
	if p, ok := b.mgr.Pod(ctx, namespace, name); ok {
		pods = append(pods, apiPod(p))
	}
	for _, p := range withManifestProblems(pods, b.loader.Latest()) {
		if p.Metadata.Namespace == namespace && p.Metadata.Name == name {
			return p, true, nil
		}
	}
	return api.Pod{}, false, nil
}

func (b *backend) Events(ctx context.Context, since time.Time) ([]api.Event, error) {
	if err := b.waitRecovered(ctx); err != nil {
		return nil, err
	}
	return mergeEvents(b.events.since(since), after(apiEvents(b.mgr.Events(ctx)), since)), nil
}

// reportProblems records a FailedValidation event for each manifest problem
// that appeared since the previous pass.
func (b *backend) reportProblems() {
	snap := b.loader.Latest()
	if snap == nil {
		return
	}
	now := time.Now().UTC()
	for _, p := range b.problems.fresh(snap.Problems) {
		b.events.add(validationEvent(p, now))
	}
}

// ExecTarget implements api.ExecBackend.
func (b *backend) ExecTarget(ctx context.Context, namespace, name, ctr string) (api.ExecTarget, error) {
	if err := b.waitRecovered(ctx); err != nil {
		return api.ExecTarget{}, err
	}
	t, err := b.mgr.ExecTarget(ctx, namespace, name, ctr)
	return api.ExecTarget(t), apiError(err)
}

// Attach implements api.AttachBackend.
func (b *backend) Attach(ctx context.Context, namespace, name, ctr string, stdin, tty bool) (net.Conn, error) {
	if err := b.waitRecovered(ctx); err != nil {
		return nil, err
	}
	conn, err := b.mgr.Attach(ctx, namespace, name, ctr, stdin, tty)
	return conn, apiError(err)
}

func (b *backend) Reconcile(ctx context.Context) error {
	if err := b.waitRecovered(ctx); err != nil {
		return err
	}
	res := b.rec.Pass(ctx)
	b.forgetUndesired()
	return res.Err
}

// forgetUndesired drops what the runtime keeps of pods no manifest
// declares any more: failed creates, and what pods dead since before the
// daemon's start left to their successors.
func (b *backend) forgetUndesired() {
	if snap := b.loader.Latest(); snap != nil {
		desired := map[reconciler.PodKey]bool{}
		for _, d := range snap.Pods {
			desired[d.Key] = true
		}
		b.mgr.Forget(func(ns, name string) bool { return desired[reconciler.PodKey{Namespace: ns, Name: name}] })
	}
}

// withManifestProblems adds what the manifest directory says about pods:
// a pod whose file no longer validates keeps running on its last good spec
// and carries the problems in a False ManifestValid condition; a pod that
// never ran because its file is invalid shows as InvalidManifest.
func withManifestProblems(pods []api.Pod, snap *manifestdir.Snapshot) []api.Pod {
	if snap == nil {
		return pods
	}
	byFile := map[string][]string{}
	for _, p := range snap.Problems {
		if p.Refuses() {
			byFile[p.File] = append(byFile[p.File], p.String())
		}
	}
	index := map[reconciler.PodKey]int{}
	for i, p := range pods {
		index[reconciler.PodKey{Namespace: p.Metadata.Namespace, Name: p.Metadata.Name}] = i
	}
	for file, problems := range byFile {
		f, ok := snap.Parsed[file]
		if !ok {
			continue
		}
		for _, d := range f.Docs {
			if d.Pod == nil || d.Pod.Name == "" {
				continue
			}
			k := reconciler.PodKey{Namespace: d.Pod.Namespace, Name: d.Pod.Name}
			if i, ok := index[k]; ok {
				addProblems(&pods[i], problems)
				continue
			}
			if !d.HasErrors() {
				continue
			}
			index[k] = len(pods)
			p := api.Pod{
				APIVersion: "v1", Kind: "Pod", Metadata: api.ObjectMeta{ObjectMeta: d.Pod.ObjectMeta}, Spec: d.Pod.Spec,
				Status: api.PodStatus{Phase: api.PodPending, Reason: api.ReasonInvalidManifest, Message: problems[0]},
			}
			p.SetAnnotation(api.AnnotationFile, file)
			addProblems(&p, problems)
			pods = append(pods, p)
		}
	}
	return pods
}

// addProblems records the problems of p's manifest file in its
// ManifestValid condition. It has no transition time: berth does not keep
// when the file went bad, and a made-up time would change on every look.
func addProblems(p *api.Pod, problems []string) {
	for i, c := range p.Status.Conditions {
		if c.Type == api.ConditionManifestValid {
			p.Status.Conditions[i].Message += "\n" + strings.Join(problems, "\n")
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, api.PodCondition{
		Type: api.ConditionManifestValid, Status: api.ConditionFalse,
		Reason: api.ReasonInvalidManifest, Message: strings.Join(problems, "\n"),
	})
}
