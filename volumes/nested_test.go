package volumes

import (
	"slices"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestNestedMountpoints(t *testing.T) {
	mounts := func(pairs ...string) []manifests.VolumeMount {
		var out []manifests.VolumeMount
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, manifests.VolumeMount{Name: pairs[i], MountPath: pairs[i+1]})
		}
		return out
	}
	tests := []struct {
		name       string
		init, ctrs [][]manifests.VolumeMount
		volume     string
		want       []string
	}{
		{name: "none", ctrs: [][]manifests.VolumeMount{mounts("conf", "/etc/envoy", "data", "/data")}, volume: "conf"},
		{name: "one nested", ctrs: [][]manifests.VolumeMount{mounts("certs", "/etc/envoy/certs", "conf", "/etc/envoy")},
			volume: "conf", want: []string{"certs"}},
		{name: "only the outermost of a double nesting",
			ctrs:   [][]manifests.VolumeMount{mounts("conf", "/etc/app", "a", "/etc/app/a", "b", "/etc/app/a/b", "c", "/etc/app/c/d")},
			volume: "conf", want: []string{"a", "c/d"}},
		{name: "a sibling with the same prefix is not nested",
			ctrs:   [][]manifests.VolumeMount{mounts("conf", "/etc/app", "other", "/etc/app2")},
			volume: "conf"},
		{name: "paths are cleaned", ctrs: [][]manifests.VolumeMount{mounts("conf", "/etc/app/", "x", "/etc/app//x/")},
			volume: "conf", want: []string{"x"}},
		{name: "the nested volume itself needs nothing",
			ctrs:   [][]manifests.VolumeMount{mounts("certs", "/etc/envoy/certs", "conf", "/etc/envoy")},
			volume: "certs"},
		{name: "per container, deduplicated, init containers too",
			init: [][]manifests.VolumeMount{mounts("conf", "/cfg", "tls", "/cfg/tls")},
			ctrs: [][]manifests.VolumeMount{
				mounts("conf", "/cfg", "tls", "/cfg/tls"),
				mounts("conf", "/etc/x", "logs", "/etc/x/logs"),
				mounts("data", "/cfg/unrelated"),
			},
			volume: "conf", want: []string{"logs", "tls"}},
		{name: "a volume mounted at / nests everything",
			ctrs:   [][]manifests.VolumeMount{mounts("root", "/", "data", "/var/data")},
			volume: "root", want: []string{"var/data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &manifests.Pod{}
			for _, m := range tt.init {
				pod.Spec.InitContainers = append(pod.Spec.InitContainers, manifests.Container{VolumeMounts: m})
			}
			for _, m := range tt.ctrs {
				pod.Spec.Containers = append(pod.Spec.Containers, manifests.Container{VolumeMounts: m})
			}
			if got := nestedMountpoints(pod, tt.volume); !slices.Equal(got, tt.want) {
				t.Errorf("nestedMountpoints(%q) = %q, want %q", tt.volume, got, tt.want)
			}
		})
	}
}
