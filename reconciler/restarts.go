package reconciler

import (
	"strings"

	"github.com/berth-project/berth/manifests"
)

// ContentChange is something a pod references whose content changed: a
// ConfigMap or Secret (Kind manifests.RestartOnConfigMaps or
// RestartOnSecrets, Name the document's), or the file of a hostPath
// volume (RestartOnHostPaths, Name the volume's).
type ContentChange struct{ Kind, Name string }

// Restart is a container to restart, and why.
type Restart struct{ Container, Reason string }

// ContentRestarts decides which of p's containers restart for changes:
// only the kinds its berth.io/restart-on-change annotation lists, and of
// those the containers that use what changed: a ConfigMap or Secret
// through env or envFrom (a volume's files change in place), a hostPath
// volume through a volumeMount. Without the annotation nothing restarts,
// as on a kubelet. Init containers are done and never restart.
func ContentRestarts(p *manifests.Pod, changes []ContentChange) []Restart {
	on, err := manifests.RestartOnChange(p)
	if err != nil || len(on) == 0 {
		return nil
	}
	hostPath := map[string]bool{}
	for _, v := range p.Spec.Volumes {
		if v.HostPath != nil {
			hostPath[v.Name] = true
		}
	}
	var out []Restart
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		var why []string
		for _, ch := range changes {
			if on[ch.Kind] && uses(c, ch, hostPath) {
				why = append(why, describeChange(ch))
			}
		}
		if len(why) > 0 {
			out = append(out, Restart{Container: c.Name, Reason: strings.Join(why, ", ") + " changed"})
		}
	}
	return out
}

func uses(c *manifests.Container, ch ContentChange, hostPath map[string]bool) bool {
	switch ch.Kind {
	case manifests.RestartOnConfigMaps, manifests.RestartOnSecrets:
		cm := ch.Kind == manifests.RestartOnConfigMaps
		for _, f := range c.EnvFrom {
			if cm && f.ConfigMapRef != nil && f.ConfigMapRef.Name == ch.Name || !cm && f.SecretRef != nil && f.SecretRef.Name == ch.Name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; cm && r != nil && r.Name == ch.Name {
				return true
			}
			if r := e.ValueFrom.SecretKeyRef; !cm && r != nil && r.Name == ch.Name {
				return true
			}
		}
	case manifests.RestartOnHostPaths:
		for _, m := range c.VolumeMounts {
			if m.Name == ch.Name && hostPath[m.Name] {
				return true
			}
		}
	}
	return false
}

func describeChange(ch ContentChange) string {
	switch ch.Kind {
	case manifests.RestartOnConfigMaps:
		return "ConfigMap " + ch.Name
	case manifests.RestartOnSecrets:
		return "Secret " + ch.Name
	}
	return "the file of hostPath volume " + ch.Name
}
