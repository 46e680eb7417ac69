package daemon

import (
	"fmt"

	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/registry"
)

// pullSecrets merges the credentials of the imagePullSecrets of pod
// namespace/name, in order (the first to name a registry wins), or
// returns nil when it has none. Missing Secrets and Secrets of other
// types are skipped, as the kubelet does (the manifest check warns of
// them).
func pullSecrets(s *manifestdir.Snapshot, namespace, name string) (*registry.DockerConfig, error) {
	if s == nil {
		return nil, nil
	}
	var out *registry.DockerConfig
	for _, d := range s.Pods {
		if d.Key.Namespace != namespace || d.Key.Name != name {
			continue
		}
		for i, ref := range d.Pod.Spec.ImagePullSecrets {
			sec, ok := s.Secrets[manifestdir.ObjectKey{Namespace: namespace, Name: ref.Name}]
			if !ok {
				continue
			}
			var c *registry.DockerConfig
			var err error
			switch sec.Type {
			case "kubernetes.io/dockerconfigjson":
				c, err = registry.ParseDockerConfig(sec.Data[".dockerconfigjson"])
			case "kubernetes.io/dockercfg":
				c, err = registry.ParseDockercfg(sec.Data[".dockercfg"])
			default:
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("spec.imagePullSecrets[%d]: Secret %q of %s: %w", i, ref.Name, d.File, err)
			}
			if out == nil {
				out = &registry.DockerConfig{Auths: map[string]registry.AuthEntry{}}
			}
			for k, a := range c.Auths {
				if _, dup := out.Auths[k]; !dup {
					out.Auths[k] = a
				}
			}
		}
	}
	return out, nil
}
