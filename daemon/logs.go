package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/pod"
)

var _ api.LogBackend = (*backend)(nil)

// Logs implements api.LogBackend: it finds the container and run a request
// means, from the pod's status, and opens that run's files in the pod's log
// directory (the infra writes them; the daemon only reads).
func (b *backend) Logs(ctx context.Context, namespace, name string, opts api.LogOptions) (api.LogStream, error) {
	p, err := b.findPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	ctr, err := pickContainer(p, opts.Container)
	if err != nil {
		return nil, err
	}
	st := findStatus(p, ctr)
	run, err := pickRun(p, ctr, st, opts.Previous)
	if err != nil {
		return nil, err
	}
	// Only the Logs member of the layout is used: it is derived from the
	// pod's identity and uid alone.
	dir := filepath.Join(pod.NewLayout("", "", b.logDir, namespace, name, p.Metadata.UID).Logs, ctr)
	ro := crilog.ReadOptions{
		Tail: opts.Tail, Timestamps: opts.Timestamps,
		// The previous run is over: there is nothing to follow.
		Follow: opts.Follow && !opts.Previous,
		State: func(ctx context.Context) (int, bool, bool) {
			return b.containerState(ctx, namespace, name, p.Metadata.UID, ctr)
		},
	}
	if opts.Since > 0 {
		ro.Since = time.Now().Add(-opts.Since)
	}
	r, err := crilog.Open(dir, run, ro)
	if err != nil {
		return nil, err
	}
	if r.Empty() && !ro.Follow {
		r.Close()
		msg := fmt.Sprintf("container %q in pod %q is waiting to start", ctr, name)
		if st != nil && st.State.Waiting != nil && st.State.Waiting.Reason != "" {
			msg += ": " + st.State.Waiting.Reason
		}
		return nil, fmt.Errorf("%s: %w", msg, api.ErrBadRequest)
	}
	return logStream{r}, nil
}

// logStream serves a request from the container's log files.
type logStream struct{ r *crilog.Reader }

func (s logStream) Copy(ctx context.Context, w api.Flusher) error { return s.r.Copy(ctx, w) }
func (s logStream) Close() error                                  { return s.r.Close() }

func (b *backend) findPod(ctx context.Context, namespace, name string) (api.Pod, error) {
	pods, err := b.Pods(ctx)
	if err != nil {
		return api.Pod{}, err
	}
	for _, p := range pods {
		if p.Metadata.Namespace == namespace && p.Metadata.Name == name {
			return p, nil
		}
	}
	return api.Pod{}, fmt.Errorf("pod %q not found in namespace %q: %w", name, namespace, api.ErrNotFound)
}

// containerState is what a follower needs to decide whether a run that
// ended is the last: the container's restart count and whether it has
// terminated for good; ok is false once the pod (this uid) is gone.
func (b *backend) containerState(ctx context.Context, namespace, name, uid, ctr string) (restarts int, final, ok bool) {
	p, err := b.findPod(ctx, namespace, name)
	if err != nil || p.Metadata.UID != uid {
		return 0, false, false
	}
	st := findStatus(p, ctr)
	if st == nil {
		return 0, false, true
	}
	return int(st.RestartCount), st.State.Terminated != nil, true
}

// pickContainer returns the container a request means; as kubectl, the
// name may be left out when the pod has one container.
func pickContainer(p api.Pod, name string) (string, error) {
	var names, inits []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.InitContainers {
		inits = append(inits, c.Name)
	}
	if name == "" {
		if len(names) == 1 {
			return names[0], nil
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", p.Metadata.Name, strings.Join(names, " "))
		if len(inits) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(inits, " "))
		}
		return "", fmt.Errorf("%s: %w", msg, api.ErrBadRequest)
	}
	for _, n := range append(names, inits...) {
		if n == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("container %s is not valid for pod %s: %w", name, p.Metadata.Name, api.ErrBadRequest)
}

func findStatus(p api.Pod, ctr string) *api.ContainerStatus {
	for _, list := range [][]api.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == ctr {
				return &list[i]
			}
		}
	}
	return nil
}

// pickRun is the run whose log a request means: the container's current
// run is its restart count (the infra names run files after it), the
// previous one the run before.
func pickRun(p api.Pod, ctr string, st *api.ContainerStatus, previous bool) (int, error) {
	run := 0
	if st != nil {
		run = int(st.RestartCount)
	}
	if !previous {
		return run, nil
	}
	if run == 0 {
		return 0, fmt.Errorf("previous terminated container %q in pod %q not found: %w", ctr, p.Metadata.Name, api.ErrBadRequest)
	}
	return run - 1, nil
}
