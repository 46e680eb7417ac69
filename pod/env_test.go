package pod

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifests"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two", "EMPTY": ""}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "1"},
		{"x$(A)y$(B)z", "x1ytwoz"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$", "$"},
		{"a$b", "a$b"},
		{"$(A", "$(A"},
		{"$(EMPTY)x", "x"},
		{"$(A)$(A)", "11"},
	} {
		if got := Expand(tc.in, vars); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	optional := true
	pod := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{
		Name: "web", Namespace: "prod", Labels: map[string]string{"app": "shop"}, Annotations: map[string]string{"team": "ops"},
	}}
	objs := Objects{
		ConfigMaps: map[string]*manifests.ConfigMap{"cfg": {Data: map[string]string{"MODE": "fast", "bad=key": "x", "LEVEL": "3"}}},
		Secrets:    map[string]*manifests.Secret{"sec": {Data: map[string][]byte{"TOKEN": []byte("s3cret")}}},
	}
	c := &manifests.Container{
		EnvFrom: []manifests.EnvFromSource{{ConfigMapRef: &manifests.LocalObjectRef{Name: "cfg"}, Prefix: "CFG_"}},
		Env: []manifests.EnvVar{
			{Name: "PATH", Value: "/custom"},
			{Name: "POD", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NS", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "IP", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "TEAM", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "metadata.annotations['team']"}}},
			{Name: "TOKEN", ValueFrom: &manifests.EnvVarSource{SecretKeyRef: &manifests.KeySelector{Name: "sec", Key: "TOKEN"}}},
			{Name: "OPT", ValueFrom: &manifests.EnvVarSource{ConfigMapKeyRef: &manifests.KeySelector{Name: "nope", Key: "x", Optional: &optional}}},
			{Name: "URL", Value: "http://$(IP):80/$(CFG_MODE)/$(HOME)"},
			{Name: "NODE", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		},
	}
	got, err := BuildEnv(c, EnvInput{Pod: pod, UID: "u1", PodIP: "10.88.0.5", NodeName: "node1", ImageEnv: []string{"PATH=/usr/bin", "HOME=/root"}, Objects: objs})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/custom", "HOME=/root", "CFG_LEVEL=3", "CFG_MODE=fast",
		"POD=web", "NS=prod", "IP=10.88.0.5", "APP=shop", "TEAM=ops", "TOKEN=s3cret", "OPT=",
		"URL=http://10.88.0.5:80/fast/$(HOME)", "NODE=node1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env:\n got %q\nwant %q", got, want)
	}
}

func TestBuildEnvMissingReference(t *testing.T) {
	c := &manifests.Container{Env: []manifests.EnvVar{{Name: "X", ValueFrom: &manifests.EnvVarSource{
		ConfigMapKeyRef: &manifests.KeySelector{Name: "absent", Key: "k"}}}}}
	_, err := BuildEnv(c, EnvInput{Pod: &manifests.Pod{}})
	if err == nil || err.Error() != `env[0] (X): configMap "absent" not found` {
		t.Fatalf("err = %v", err)
	}
}

// TestRecordEnvAddresses: the downward API's status.hostIP is the host's
// address on the pod network, and a hostNetwork pod's status.podIP is the
// host's, as the kubelet gives them.
func TestRecordEnvAddresses(t *testing.T) {
	ref := func(name, path string) manifests.EnvVar {
		return manifests.EnvVar{Name: name, ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: path}}}
	}
	c := &manifests.Container{Name: "c", Env: []manifests.EnvVar{ref("POD_IP", "status.podIP"), ref("HOST_IP", "status.hostIP")}}
	for _, tt := range []struct {
		hostNetwork bool
		want        []string
	}{
		{false, []string{"POD_IP=10.88.0.5", "HOST_IP=10.88.0.1"}},
		{true, []string{"POD_IP=10.88.0.1", "HOST_IP=10.88.0.1"}},
	} {
		rec := &record{Pod: &manifests.Pod{Spec: manifests.PodSpec{HostNetwork: tt.hostNetwork}}, HostIP: "10.88.0.1"}
		if !tt.hostNetwork {
			rec.IP = "10.88.0.5"
		}
		got, err := rec.env(c, images.Image{}, Objects{}, "", downward.Node{})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("hostNetwork %v: env %q, want %q", tt.hostNetwork, got, tt.want)
		}
	}
}

func TestBuildEnvResourceFieldRef(t *testing.T) {
	q := manifests.MustParseQuantity
	mi, milli := q("1Mi"), q("1m")
	ref := func(ctr, res string, div *manifests.Quantity) *manifests.EnvVarSource {
		return &manifests.EnvVarSource{ResourceFieldRef: &manifests.ResourceFieldSelector{ContainerName: ctr, Resource: res, Divisor: div}}
	}
	pod := &manifests.Pod{Spec: manifests.PodSpec{Containers: []manifests.Container{
		{Name: "app", Resources: manifests.ResourceRequirements{
			Limits:   map[string]manifests.Quantity{"cpu": q("500m"), "memory": q("256Mi")},
			Requests: map[string]manifests.Quantity{"memory": q("64Mi")},
		}},
		{Name: "side"},
	}}}
	c := &pod.Spec.Containers[0]
	c.Env = []manifests.EnvVar{
		{Name: "MEM_LIMIT", ValueFrom: ref("", "limits.memory", &mi)},
		{Name: "MEM_REQUEST", ValueFrom: ref("app", "requests.memory", &mi)},
		{Name: "CPU_MILLI", ValueFrom: ref("", "limits.cpu", &milli)},
		{Name: "CPU", ValueFrom: ref("", "limits.cpu", nil)},
		{Name: "SIDE_CPU", ValueFrom: ref("side", "limits.cpu", &milli)},
		{Name: "SIDE_MEM", ValueFrom: ref("side", "limits.memory", nil)},
	}
	got, err := BuildEnv(c, EnvInput{Pod: pod, Node: downward.Node{MilliCPU: 2000, Memory: 1 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"MEM_LIMIT=256", "MEM_REQUEST=64", "CPU_MILLI=500", "CPU=1", "SIDE_CPU=2000", "SIDE_MEM=1073741824"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildEnv() = %v, want %v", got, want)
	}
	c.Env = []manifests.EnvVar{{Name: "X", ValueFrom: ref("nope", "limits.cpu", nil)}}
	if _, err := BuildEnv(c, EnvInput{Pod: pod}); err == nil {
		t.Error("BuildEnv() with an unknown containerName: no error")
	}
}

func TestExpandSubPaths(t *testing.T) {
	c := &manifests.Container{Name: "app", VolumeMounts: []manifests.VolumeMount{
		{Name: "logs", MountPath: "/logs", SubPathExpr: "$(POD_NAME)/$(MISSING)"},
		{Name: "data", MountPath: "/data", SubPath: "fixed"},
		{Name: "esc", MountPath: "/esc", SubPathExpr: "$$(POD_NAME)"},
	}}
	got := ExpandSubPaths(c, map[string]string{"POD_NAME": "web-1"})
	want := []manifests.VolumeMount{
		{Name: "logs", MountPath: "/logs", SubPath: "web-1/$(MISSING)"},
		{Name: "data", MountPath: "/data", SubPath: "fixed"},
		{Name: "esc", MountPath: "/esc", SubPath: "$(POD_NAME)"},
	}
	if !reflect.DeepEqual(got.VolumeMounts, want) {
		t.Errorf("ExpandSubPaths() mounts = %+v, want %+v", got.VolumeMounts, want)
	}
	if c.VolumeMounts[0].SubPathExpr == "" {
		t.Error("ExpandSubPaths() changed the container it was given")
	}
	plain := &manifests.Container{Name: "app", VolumeMounts: want}
	if ExpandSubPaths(plain, nil) != plain {
		t.Error("ExpandSubPaths() copied a container without subPathExpr")
	}
}

// TestBuildEnvVarsForSubPathExpr: what subPathExpr may refer to is the
// container's own variables (env and envFrom), never the image's.
func TestBuildEnvVarsForSubPathExpr(t *testing.T) {
	pod := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "web-1"}}
	c := &manifests.Container{Name: "app", Env: []manifests.EnvVar{
		{Name: "POD_NAME", ValueFrom: &manifests.EnvVarSource{FieldRef: &manifests.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}}
	_, vars, err := buildEnv(c, EnvInput{Pod: pod, ImageEnv: []string{"HOME=/root"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"POD_NAME": "web-1"}; !reflect.DeepEqual(vars, want) {
		t.Errorf("vars = %v, want %v", vars, want)
	}
}
