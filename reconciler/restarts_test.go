package reconciler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestContentRestarts(t *testing.T) {
	pod := func(annotation string) *manifests.Pod {
		p := testPod("web", "i", nil)
		if annotation != "" {
			p.Annotations = map[string]string{manifests.AnnotationRestartOnChange: annotation}
		}
		p.Spec.Volumes = []manifests.Volume{
			{Name: "conf", HostPath: &manifests.HostPathVolumeSource{Path: "/etc/app.conf"}},
			{Name: "cmvol", ConfigMap: &manifests.ConfigMapVolumeSource{Name: "files"}},
		}
		p.Spec.InitContainers = []manifests.Container{{Name: "init", EnvFrom: []manifests.EnvFromSource{{ConfigMapRef: &manifests.LocalObjectRef{Name: "settings"}}}}}
		p.Spec.Containers = []manifests.Container{
			{Name: "env", Env: []manifests.EnvVar{{Name: "A", ValueFrom: &manifests.EnvVarSource{ConfigMapKeyRef: &manifests.KeySelector{Name: "settings", Key: "a"}}}}},
			{Name: "envfrom", EnvFrom: []manifests.EnvFromSource{{SecretRef: &manifests.LocalObjectRef{Name: "creds"}}}},
			{Name: "secretkey", Env: []manifests.EnvVar{{Name: "P", ValueFrom: &manifests.EnvVarSource{SecretKeyRef: &manifests.KeySelector{Name: "settings", Key: "p"}}}}},
			{Name: "mounts", VolumeMounts: []manifests.VolumeMount{{Name: "conf", MountPath: "/conf"}, {Name: "cmvol", MountPath: "/files"}}},
		}
		return p
	}
	cm := func(n string) ContentChange { return ContentChange{manifests.RestartOnConfigMaps, n} }
	secret := func(n string) ContentChange { return ContentChange{manifests.RestartOnSecrets, n} }
	file := func(n string) ContentChange { return ContentChange{manifests.RestartOnHostPaths, n} }
	tests := []struct {
		name       string
		annotation string
		changes    []ContentChange
		want       []string
	}{
		{name: "without the annotation nothing restarts", changes: []ContentChange{cm("settings"), secret("creds"), file("conf")}},
		{name: "a ConfigMap of env restarts its users only", annotation: "configmaps", changes: []ContentChange{cm("settings")},
			want: []string{"env: ConfigMap settings changed"}},
		{name: "a Secret named like the ConfigMap is another document", annotation: "secrets", changes: []ContentChange{secret("settings")},
			want: []string{"secretkey: Secret settings changed"}},
		{name: "envFrom a Secret", annotation: "configmaps,secrets", changes: []ContentChange{secret("creds"), cm("other")},
			want: []string{"envfrom: Secret creds changed"}},
		{name: "a kind not listed does not restart", annotation: "secrets,hostpaths", changes: []ContentChange{cm("settings")}},
		{name: "a ConfigMap volume changes in place", annotation: "configmaps", changes: []ContentChange{cm("files")}},
		{name: "a hostPath file restarts the containers mounting it", annotation: "hostpaths", changes: []ContentChange{file("conf")},
			want: []string{"mounts: the file of hostPath volume conf changed"}},
		{name: "a volume that is no hostPath", annotation: "hostpaths", changes: []ContentChange{file("cmvol")}},
		{name: "several changes, one restart each", annotation: "configmaps,secrets,hostpaths", changes: []ContentChange{cm("settings"), secret("settings"), file("conf")},
			want: []string{"env: ConfigMap settings changed", "secretkey: Secret settings changed", "mounts: the file of hostPath volume conf changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range ContentRestarts(pod(tt.annotation), tt.changes) {
				got = append(got, fmt.Sprintf("%s: %s", r.Container, r.Reason))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	never := pod("configmaps")
	never.Spec.RestartPolicy = "Never"
	if got := ContentRestarts(never, []ContentChange{cm("settings")}); got != nil {
		t.Errorf("a Never pod (refused by validation) restarts %v", got)
	}
}
