package pod

import (
	"context"
	"fmt"
	"sync"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
)

// A pod whose infra dies while the daemon runs (SIGKILL, the OOM killer)
// loses its containers with it: their parent-death signal is SIGKILL. The
// kubelet, seeing a dead sandbox, kills what is left of the pod and makes
// a new sandbox whose containers start again as restarts of the last runs;
// under restartPolicy Never, once containers have run, it makes nothing
// and the pod ends Failed. berth does the same at each reconcile pass
// (ListPods, which asks the process table, cheaply, for every pod's infra
// by PID and start time) and, so that a pass comes at once, when the
// pod's status watch ends (statuscache.go, Config.InfraExited).

// reapDead removes what is left of every pod whose infra died and that is
// neither being torn down nor already ended. Its containers' last runs go
// to the pod its manifest makes again (carried, as after a reboot), which
// the reconciler creates in the same pass since the pod is no longer
// listed; a Never pod whose containers ran is kept, ended, and shows
// Failed. A teardown that fails is tried again at a pass it asks for
// after a back-off (1 s, doubling up to a minute). The teardowns run in
// parallel, as Recover's do.
func (m *Manager) reapDead(ctx context.Context) {
	m.mu.Lock()
	dead := map[string]*entry{}
	for id, e := range m.pods {
		if !e.terminating && e.ended == nil && !m.cfg.Processes.Alive(e.rec.InfraPID, e.rec.InfraStart) {
			e.terminating = true
			dead[id] = e
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for id, e := range dead {
		wg.Go(func() { m.infraDied(ctx, id, e) })
	}
	wg.Wait()
}

func (m *Manager) infraDied(ctx context.Context, id string, e *entry) {
	p := e.rec.Pod
	m.cfg.Log.Warn("pod's infra died; removing what is left of the pod", "pod", key(p), "pid", e.rec.InfraPID)
	m.event(p, "", kube.EventNormal, kube.EventSandboxChanged,
		fmt.Sprintf("Pod sandbox changed (infra process %d died), it will be killed and re-created.", e.rec.InfraPID))
	m.stopProbes(e)
	// Its containers are gone with it: no preStop hook runs (grace 0),
	// but the hooks' watch and network namespace are let go.
	_, done := m.stopHooks(ctx, e, 0)
	done()
	m.stopWatch(e)
	cr := carryOver(e.rec, e.layout)
	err := undoAll(ctx, m.createSteps(&podRun{id: id, rec: e.rec, l: e.layout, keepLogs: true}))
	m.mu.Lock()
	defer m.mu.Unlock()
	e.terminating = false
	if err != nil {
		e.reapRetry = m.retryTeardown(e.reapRetry)
		m.cfg.Log.Error("remove pod whose infra died", "pod", key(p), "err", err, "retry_in", e.reapRetry)
		return
	}
	if p.Spec.RestartPolicy == infra.RestartNever && len(cr.last) > 0 {
		e.ended = endedStatus(cr, e.rec)
		return
	}
	delete(m.pods, id)
	m.carried[id] = cr
}

// endedStatus is what a Never pod whose infra died shows from then on:
// every container ended as the carried runs say (the end nobody saw), one
// that never ran as well, so the pod's phase is Failed.
func endedStatus(cr *carried, rec *record) *infra.PodStatus {
	st := &infra.PodStatus{Started: true, StartedAt: rec.Created}
	ended := func(name string) infra.ContainerStatus {
		l, ok := cr.last[name]
		if !ok {
			l.state = kube.StateTerminated{ExitCode: kube.ExitCodeUnknown, Reason: kube.ReasonUnknown,
				Message: "the pod's infra stopped before the container ran"}
		}
		return infra.ContainerStatus{Name: name, RestartCount: l.run, State: kube.ContainerState{Terminated: &l.state}}
	}
	for _, c := range rec.Pod.Spec.InitContainers {
		st.InitContainers = append(st.InitContainers, ended(c.Name))
	}
	for _, c := range rec.Pod.Spec.Containers {
		st.Containers = append(st.Containers, ended(c.Name))
	}
	return st
}
