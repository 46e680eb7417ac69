package pod

import (
	"maps"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestVolumeRefs(t *testing.T) {
	p := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "c", ConfigMap: &manifests.ConfigMapVolumeSource{Name: "conf"}},
		{Name: "s", Secret: &manifests.SecretVolumeSource{SecretName: "tok"}},
		{Name: "e", EmptyDir: &manifests.EmptyDirVolumeSource{}},
	}}}
	if len(volumeRefs(&manifests.Pod{}, Objects{})) != 0 {
		t.Fatal("a pod without volumes references documents")
	}
	cm1, cm2, sec := &manifests.ConfigMap{}, &manifests.ConfigMap{}, &manifests.Secret{}
	before := volumeRefs(p, Objects{ConfigMaps: map[string]*manifests.ConfigMap{"conf": cm1}, Secrets: map[string]*manifests.Secret{"tok": sec}})
	same := volumeRefs(p, Objects{ConfigMaps: map[string]*manifests.ConfigMap{"conf": cm1, "other": cm2}, Secrets: map[string]*manifests.Secret{"tok": sec}})
	changed := volumeRefs(p, Objects{ConfigMaps: map[string]*manifests.ConfigMap{"conf": cm2}, Secrets: map[string]*manifests.Secret{"tok": sec}})
	gone := volumeRefs(p, Objects{Secrets: map[string]*manifests.Secret{"tok": sec}})
	if len(before) != 2 || !maps.Equal(before, same) {
		t.Errorf("an unrelated document changed the refs: %v vs %v", before, same)
	}
	if maps.Equal(before, changed) || maps.Equal(before, gone) {
		t.Error("a replaced or missing ConfigMap left the refs equal")
	}
	if !maps.Equal(gone, volumeRefs(p, Objects{Secrets: map[string]*manifests.Secret{"tok": sec}})) {
		t.Error("a missing ConfigMap gives different refs each time")
	}
}

func TestEnvRefs(t *testing.T) {
	p := &manifests.Pod{Spec: manifests.PodSpec{
		InitContainers: []manifests.Container{{Name: "i", EnvFrom: []manifests.EnvFromSource{{SecretRef: &manifests.LocalObjectRef{Name: "tok"}}}}},
		Containers: []manifests.Container{{Name: "a", Env: []manifests.EnvVar{
			{Name: "PLAIN", Value: "x"},
			{Name: "G", ValueFrom: &manifests.EnvVarSource{ConfigMapKeyRef: &manifests.KeySelector{Name: "conf", Key: "g"}}},
		}}},
	}}
	cm := &manifests.ConfigMap{}
	got := envRefs(p, Objects{ConfigMaps: map[string]*manifests.ConfigMap{"conf": cm}})
	want := map[string]any{"configmap/conf": cm, "secret/tok": (*manifests.Secret)(nil)}
	if !maps.Equal(got, want) {
		t.Errorf("envRefs = %v, want %v", got, want)
	}
}

// TestVolumeRefsFollowMetadata: a label or annotation edit changes the refs
// of a pod with a downwardAPI volume or a projected one with a downwardAPI
// source, so Refresh rewrites its files; a projected volume's ConfigMaps
// and Secrets count as a configMap volume's do.
func TestVolumeRefsFollowMetadata(t *testing.T) {
	items := []manifests.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &manifests.ObjectFieldSelector{FieldPath: "metadata.labels"}}}
	withLabels := func(p *manifests.Pod, labels, annotations map[string]string) *manifests.Pod {
		c := *p
		c.Labels, c.Annotations = labels, annotations
		return &c
	}
	downwardPod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "d", DownwardAPI: &manifests.DownwardAPIVolumeSource{Items: items}},
	}}}
	projectedPod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "p", Projected: &manifests.ProjectedVolumeSource{Sources: []manifests.VolumeProjection{
			{ConfigMap: &manifests.ConfigMapProjection{Name: "conf"}},
			{DownwardAPI: &manifests.DownwardAPIProjection{Items: items}},
		}}},
	}}}
	plainPod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "c", ConfigMap: &manifests.ConfigMapVolumeSource{Name: "conf"}},
	}}}
	cm1, cm2 := &manifests.ConfigMap{}, &manifests.ConfigMap{}
	objs := func(cm *manifests.ConfigMap) Objects {
		return Objects{ConfigMaps: map[string]*manifests.ConfigMap{"conf": cm}}
	}
	a := map[string]string{"app": "web"}
	b := map[string]string{"app": "web", "v": "2"}
	for _, tt := range []struct {
		name       string
		pod        *manifests.Pod
		wantFollow bool
	}{
		{"downwardAPI", downwardPod, true},
		{"projected", projectedPod, true},
		{"configMap only", plainPod, false},
	} {
		before := volumeRefs(withLabels(tt.pod, a, nil), objs(cm1))
		if !maps.Equal(before, volumeRefs(withLabels(tt.pod, maps.Clone(a), nil), objs(cm1))) {
			t.Errorf("%s: equal labels give different refs", tt.name)
		}
		labels := !maps.Equal(before, volumeRefs(withLabels(tt.pod, b, nil), objs(cm1)))
		annotations := !maps.Equal(before, volumeRefs(withLabels(tt.pod, a, b), objs(cm1)))
		if labels != tt.wantFollow || annotations != tt.wantFollow {
			t.Errorf("%s: a label edit changes the refs: %v, an annotation edit: %v; want %v", tt.name, labels, annotations, tt.wantFollow)
		}
		if tt.pod != downwardPod && maps.Equal(before, volumeRefs(withLabels(tt.pod, a, nil), objs(cm2))) {
			t.Errorf("%s: a replaced ConfigMap left the refs equal", tt.name)
		}
	}
}
