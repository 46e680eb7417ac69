package pod

import (
	"maps"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/volumes"
)

// RefreshVolumes brings the configMap and secret volumes of the running
// pods up to date with the documents of the manifest directory, as the
// kubelet does: the files change in place, atomically (a new version and a
// swap of the volume's ..data link), and the containers see them, except
// through subPath mounts. Environment variables taken from the same
// documents do not change. A pod is only rewritten when a document it
// references was replaced since its last refresh; a failure (a document
// that went missing) is logged and recorded as a FailedMount event once,
// and the volume keeps its files. The daemon calls it after each reconcile
// pass, never at the same time as one.
func (m *Manager) RefreshVolumes() {
	m.mu.Lock()
	var entries []*entry
	for _, e := range m.pods {
		if !e.terminating && hasProjectedVolumes(e.rec.Pod) {
			entries = append(entries, e)
		}
	}
	m.mu.Unlock()
	for _, e := range entries {
		p := e.rec.Pod
		objs := m.objects(p.Namespace)
		refs := volumeRefs(p, objs)
		if maps.Equal(refs, e.refs) {
			continue
		}
		err := volumes.Update(volumes.Projected(e.layout.VolumesDir(), p), p, objs.ConfigMaps, objs.Secrets)
		if err != nil {
			if msg := err.Error(); msg != e.volErr {
				m.cfg.Log.Warn("refresh volumes", "pod", ID(p.Namespace, p.Name), "err", err)
				m.event(p, "", api.EventWarning, api.EventFailedMount, msg)
				e.volErr = msg
			}
			continue
		}
		if e.refs != nil {
			m.cfg.Log.Info("volumes refreshed", "pod", ID(p.Namespace, p.Name))
		}
		e.refs, e.volErr = refs, ""
	}
}

func hasProjectedVolumes(p *manifests.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil {
			return true
		}
	}
	return false
}

// volumeRefs maps each ConfigMap and Secret p's volumes reference to the
// document the manifest directory holds now (nil when it has none). The
// loader hands back the same document until its file changes, so comparing
// two results tells whether anything needs rewriting.
func volumeRefs(p *manifests.Pod, objs Objects) map[string]any {
	refs := map[string]any{}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			refs["configmap/"+v.ConfigMap.Name] = objs.ConfigMaps[v.ConfigMap.Name]
		case v.Secret != nil:
			refs["secret/"+v.Secret.SecretName] = objs.Secrets[v.Secret.SecretName]
		}
	}
	return refs
}
