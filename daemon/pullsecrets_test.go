package daemon

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

func TestPullSecrets(t *testing.T) {
	secret := func(name, typ, key, value string) *manifests.Secret {
		return &manifests.Secret{ObjectMeta: manifests.ObjectMeta{Name: name, Namespace: "default"}, Type: typ,
			Data: map[string][]byte{key: []byte(value)}}
	}
	pod := func(name string, refs ...string) reconciler.Desired {
		p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: name, Namespace: "default"}}
		for _, r := range refs {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, manifests.LocalObjectReference{Name: r})
		}
		return reconciler.Desired{Key: reconciler.PodKey{Namespace: "default", Name: name}, File: name + ".yaml", Pod: p}
	}
	s := &manifestdir.Snapshot{
		Pods: []reconciler.Desired{pod("none"), pod("two", "missing", "opaque", "json", "cfg"), pod("broken", "bad")},
		Secrets: map[manifestdir.ObjectKey]*manifests.Secret{
			{Namespace: "default", Name: "json"}: secret("json", "kubernetes.io/dockerconfigjson", ".dockerconfigjson",
				`{"auths":{"a.example":{"username":"first","password":"p1"}}}`),
			{Namespace: "default", Name: "cfg"}: secret("cfg", "kubernetes.io/dockercfg", ".dockercfg",
				`{"a.example":{"username":"second","password":"p2"},"b.example":{"username":"b","password":"p3"}}`),
			{Namespace: "default", Name: "opaque"}: secret("opaque", "Opaque", "x", "y"),
			{Namespace: "default", Name: "bad"}:    secret("bad", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", `{"auths":"hunter2"}`),
		},
	}
	if c, err := pullSecrets(s, "default", "none"); c != nil || err != nil {
		t.Errorf("pod without imagePullSecrets: %v, %v", c, err)
	}
	c, err := pullSecrets(s, "default", "two")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Auths) != 2 || c.Auths["a.example"].Username != "first" || c.Auths["b.example"].Username != "b" {
		t.Errorf("merged: %+v", c.Auths)
	}
	_, err = pullSecrets(s, "default", "broken")
	if err == nil || !strings.Contains(err.Error(), `spec.imagePullSecrets[0]: Secret "bad" of broken.yaml`) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("broken Secret: %v", err)
	}
}
