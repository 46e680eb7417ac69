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
