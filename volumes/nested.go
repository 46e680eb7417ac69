package volumes

import (
	"path"
	"slices"
	"strings"

	"github.com/berth-project/berth/manifests"
)

// nestedMountpoints returns the directories, relative to the volume's root,
// that other mounts of the pod's containers need inside the volume named
// name: with the volume at /etc/envoy and another at /etc/envoy/certs in
// the same container, "certs". A configMap or secret volume is mounted
// read-only, so the container init could not create such a target in it;
// the kubelet creates them in the volume for the same reason. Only the
// outermost of doubly nested mounts counts (/etc/envoy/a, not
// /etc/envoy/a/b, which lands in whatever is mounted at a).
func nestedMountpoints(pod *manifests.Pod, name string) []string {
	var out []string
	for _, cs := range [][]manifests.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			out = append(out, nestedIn(cs[i].VolumeMounts, name)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nestedIn is nestedMountpoints for one container's mounts.
func nestedIn(mounts []manifests.VolumeMount, name string) []string {
	all := make([]string, 0, len(mounts))
	var mine []string
	for _, m := range mounts {
		p := path.Clean(m.MountPath)
		all = append(all, p)
		if m.Name == name {
			mine = append(mine, p)
		}
	}
	slices.Sort(all)
	var out []string
	for _, at := range mine {
		prefix := strings.TrimSuffix(at, "/") + "/"
		prev := ""
		for _, p := range all {
			if p == at || !strings.HasPrefix(p, prefix) || (prev != "" && strings.HasPrefix(p, prev)) {
				continue
			}
			prev = p + "/"
			out = append(out, p[len(prefix):])
		}
	}
	return out
}
