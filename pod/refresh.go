package pod

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
	"github.com/berth-project/berth/volumes"
)

// Refresh brings running pods up to date with the ConfigMaps and Secrets
// of the manifest directory, and with their own labels and annotations, as
// the kubelet does:
//
//   - configMap, secret, downwardAPI and projected volumes change in
//     place, atomically (a new version and a swap of the volume's ..data
//     link), and the containers see the new files, except through subPath
//     mounts; a label or annotation edit (an UpdateMetadata action) reaches
//     the downwardAPI files;
//   - a container's environment is computed afresh for its next run (a
//     restart), while running processes keep the one they started with.
//
// A pod is only looked at again when a document it references was replaced
// since its last refresh, or, with a downwardAPI or projected volume, when
// its labels or annotations changed (the loader returns the same document until its
// file changes, so an unchanged pod costs a map comparison). A failure (a
// document or key that went missing) is logged and recorded as an event
// once, and the pod keeps its files and environment. The daemon calls
// Refresh after each reconcile pass, never at the same time as one.
func (m *Manager) Refresh(ctx context.Context) {
	m.mu.Lock()
	var entries []*entry
	for _, e := range m.pods {
		if !e.terminating && e.ended == nil {
			entries = append(entries, e)
		}
	}
	m.mu.Unlock()
	byNamespace := map[string]Objects{}
	for _, e := range entries {
		ns := e.rec.Pod.Namespace
		objs, ok := byNamespace[ns]
		if !ok {
			objs = m.objects(ns)
			byNamespace[ns] = objs
		}
		// A pod that references no document has empty refs, equal to its
		// recorded ones: both refreshes return at once.
		m.refreshVolumes(e, objs)
		changes := m.refreshEnv(ctx, e, objs)
		if on, _ := manifests.RestartOnChange(e.rec.Pod); on[manifests.RestartOnHostPaths] {
			if e.files == nil {
				e.files = map[string]fileState{}
			}
			changes = append(changes, checkHostPaths(e.rec.Pod, e.files)...)
		}
		if len(changes) > 0 {
			m.restartOnChange(ctx, e, changes)
		}
	}
}

func (m *Manager) refreshVolumes(e *entry, objs Objects) {
	p := e.rec.Pod
	refs := volumeRefs(p, objs)
	if maps.Equal(refs, e.vol.refs) {
		return
	}
	err := volumes.Update(volumes.Projected(e.layout.VolumesDir(), p), p, objs.ConfigMaps, objs.Secrets, e.rec.UID, m.cfg.Node)
	if m.refreshed(p, &e.vol, refs, kube.EventFailedMount, err) {
		m.cfg.Log.Info("volumes refreshed", "pod", key(p))
	}
}

// refreshEnv gives the infra the containers' environment for their next
// runs when a document it comes from changed, and returns the ConfigMaps
// and Secrets whose content changed since the last refresh (none at the
// first).
func (m *Manager) refreshEnv(ctx context.Context, e *entry, objs Objects) []reconciler.ContentChange {
	p := e.rec.Pod
	refs := envRefs(p, objs)
	if maps.Equal(refs, e.env.refs) {
		return nil
	}
	old := e.env.refs
	envs, err := m.containerEnvs(e.rec, objs)
	if err == nil {
		err = infra.NewClient(e.layout.Socket()).SetEnv(ctx, envs)
	}
	if errors.Is(err, infra.ErrUnsupported) {
		// An infra from before an upgrade: its containers keep their
		// environment until the pod is re-created.
		e.env.refs = refs
		return nil
	}
	if !m.refreshed(p, &e.env, refs, kube.EventFailed, err) {
		return nil
	}
	m.cfg.Log.Info("environment refreshed for the next restarts", "pod", key(p))
	return changedDocuments(old, refs)
}

// refreshState is what a pod's last refresh of one kind saw.
type refreshState struct {
	// refs are the documents it was last refreshed from; err its last
	// failure.
	refs map[string]any
	err  string
}

// refreshed records the outcome of a refresh from refs: on failure, a log
// line and an event with reason the first time this error is seen (the
// refresh is retried after the next pass); it reports whether a refresh
// after the first one succeeded.
func (m *Manager) refreshed(p *manifests.Pod, st *refreshState, refs map[string]any, reason string, err error) bool {
	if err != nil {
		if msg := err.Error(); msg != st.err {
			m.cfg.Log.Warn("refresh from ConfigMaps and Secrets", "pod", key(p), "err", err)
			m.event(p, "", kube.EventWarning, reason, msg)
			st.err = msg
		}
		return false
	}
	again := st.refs != nil
	st.refs, st.err = refs, ""
	return again
}

// containerEnvs computes every container's environment from the current
// documents, as the create did.
func (m *Manager) containerEnvs(rec *record, objs Objects) (map[string][]string, error) {
	p := rec.Pod
	envs := map[string][]string{}
	for _, c := range allContainers(p) {
		img, err := m.imageOf(rec, c)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		env, err := rec.env(c, img, objs, m.nodeName, m.cfg.Node)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		envs[c.Name] = env
	}
	return envs, nil
}

// volumeRefs maps each ConfigMap and Secret p's volumes reference to the
// document objs holds (nil when it has none), and, when a downwardAPI or
// projected volume may show them, the pod's labels and annotations as
// their files show them: comparing two results tells whether anything
// needs rewriting.
func volumeRefs(p *manifests.Pod, objs Objects) map[string]any {
	refs := map[string]any{}
	cm := func(name string) { refs["configmap/"+name] = objs.ConfigMaps[name] }
	secret := func(name string) { refs["secret/"+name] = objs.Secrets[name] }
	metadata := func() {
		refs["metadata/labels"] = downward.FormatMap(p.Labels)
		refs["metadata/annotations"] = downward.FormatMap(p.Annotations)
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			cm(v.ConfigMap.Name)
		case v.Secret != nil:
			secret(v.Secret.SecretName)
		case v.DownwardAPI != nil:
			metadata()
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				switch {
				case src.ConfigMap != nil:
					cm(src.ConfigMap.Name)
				case src.Secret != nil:
					secret(src.Secret.Name)
				case src.DownwardAPI != nil:
					metadata()
				}
			}
		}
	}
	return refs
}

// envRefs is volumeRefs for the documents the containers' env and envFrom
// reference.
func envRefs(p *manifests.Pod, objs Objects) map[string]any {
	refs := map[string]any{}
	for _, c := range allContainers(p) {
		for _, f := range c.EnvFrom {
			if f.ConfigMapRef != nil {
				refs["configmap/"+f.ConfigMapRef.Name] = objs.ConfigMaps[f.ConfigMapRef.Name]
			}
			if f.SecretRef != nil {
				refs["secret/"+f.SecretRef.Name] = objs.Secrets[f.SecretRef.Name]
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				refs["configmap/"+r.Name] = objs.ConfigMaps[r.Name]
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				refs["secret/"+r.Name] = objs.Secrets[r.Name]
			}
		}
	}
	return refs
}
