package pod

import (
	"os"
	"path/filepath"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// carried is what a pod whose infra died with its host (a reboot, or the
// infra killed) hands to the pod its manifest makes again: the kubelet
// keeps a pod's identity across a node restart and starts its containers
// again, so the new pod keeps the UID and the log directory, and each
// container's first run is a restart of the last one the logs show, whose
// end nobody saw (kube.ReasonUnknown, exit code 255, as containerd reports
// a container a reboot ended).
type carried struct {
	uid  string
	pod  *manifests.Pod
	logs string
	// last is each container's last run by name, as its log files say.
	last map[string]lastRun
}

// lastRun is a container's last run before its pod's infra died: its
// number and how it ended.
type lastRun struct {
	run   int
	state kube.StateTerminated
}

// carryOver reads what the dead pod of rec leaves to its successor: its
// containers' last runs from their log directories. The run's end is the
// last write to its log, as far as anyone can tell.
func carryOver(rec *record, l Layout) *carried {
	cr := &carried{uid: rec.UID, pod: rec.Pod, logs: l.Logs, last: map[string]lastRun{}}
	for _, c := range allContainers(rec.Pod) {
		dir := filepath.Join(l.Logs, c.Name)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name()
		}
		run, ok := crilog.LastRun(names)
		if !ok {
			continue
		}
		t := kube.StateTerminated{ExitCode: kube.ExitCodeUnknown, Reason: kube.ReasonUnknown,
			Message: "the container was running when its host or its pod's infra stopped"}
		if st, err := os.Stat(crilog.Path(l.Logs, c.Name, run)); err == nil {
			t.FinishedAt = st.ModTime().UTC()
		}
		cr.last[c.Name] = lastRun{run: run, state: t}
	}
	return cr
}

// apply makes each of ctrs start as the restart after its carried run.
func (cr *carried) apply(ctrs []infra.ContainerConfig) {
	for i := range ctrs {
		if l, ok := cr.last[ctrs[i].Name]; ok {
			ctrs[i].RestartCount, ctrs[i].LastState = l.run, &l.state
		}
	}
}

// carriedFor returns what the dead pod id left for a new pod of spec p,
// or nil: a changed spec is a new pod, which starts afresh.
func (m *Manager) carriedFor(id string, p *manifests.Pod) *carried {
	m.mu.Lock()
	defer m.mu.Unlock()
	cr := m.carried[id]
	if cr == nil || !manifests.SpecEqual(cr.pod, p) {
		return nil
	}
	return cr
}

// dropCarried forgets what the dead pod id left, once a new pod took it
// over (keepLogs) or no pod will: then its logs go too.
func (m *Manager) dropCarried(id string, keepLogs bool) error {
	m.mu.Lock()
	cr := m.carried[id]
	delete(m.carried, id)
	m.mu.Unlock()
	if cr == nil || keepLogs {
		return nil
	}
	return os.RemoveAll(cr.logs)
}
