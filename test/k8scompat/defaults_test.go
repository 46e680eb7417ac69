package k8scompat

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-project/berth/manifests"
)

// TestDefaultsAgree compares the fields berth defaults with what the
// Kubernetes API server sets for the same manifest. Kubernetes' defaulting
// functions live in k8s.io/kubernetes, which is not meant to be imported,
// so the expectations are a golden table checked by hand against its
// pkg/apis/core/v1/defaults.go, using k8s.io/api's own constants where it
// has them. Fields Kubernetes defaults and berth leaves unset
// (schedulerName, enableServiceLinks, securityContext, priority) belong to
// the scheduler and the API server and are not checked. One default berth
// does not write into the spec: a container's requests from its limits;
// berth applies it where it matters (CPU shares, the QoS class) instead.
func TestDefaultsAgree(t *testing.T) {
	const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	src := `apiVersion: v1
kind: Pod
metadata: {name: defaults}
spec:
  volumes:
  - {name: c, configMap: {name: cm}}
  - {name: s, secret: {secretName: sec}}
  - {name: d, downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}}
  - {name: p, projected: {sources: [{downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}}]}}
  - {name: i, image: {reference: busybox}}
  - {name: j, image: {reference: "busybox:1.36"}}
  initContainers:
  - {name: init, image: "busybox:latest"}
  containers:
  - name: untagged
    image: busybox
    ports: [{containerPort: 80}]
    env: [{name: "N", valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
  - {name: tagged, image: "busybox:1.36"}
  - {name: digest, image: "busybox@` + digest + `"}
  - {name: registry-port, image: "registry.example:5000/busybox"}
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: kube-system}
spec:
  hostNetwork: true
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  containers:
  - name: c
    image: busybox:1.36
    ports: [{containerPort: 9000, protocol: UDP}]
`
	f := manifests.Parse("defaults.yaml", []byte(src))
	if f.HasErrors() || len(f.Docs) != 2 {
		t.Fatalf("berth refuses the manifest: %v", f.Problems())
	}
	pods := make([]corev1.Pod, 2)
	for i, d := range f.Docs {
		b, err := json.Marshal(d.Pod)
		if err != nil {
			t.Fatal(err)
		}
		if err := strictJSON(b, &pods[i]); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
	}
	p, host := pods[0], pods[1]
	grace := corev1.DefaultTerminationGracePeriodSeconds
	cmMode, secMode := corev1.ConfigMapVolumeSourceDefaultMode, corev1.SecretVolumeSourceDefaultMode
	dwMode, projMode := corev1.DownwardAPIVolumeSourceDefaultMode, corev1.ProjectedVolumeSourceDefaultMode
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"metadata.namespace", p.Namespace, "default"},
		{"spec.restartPolicy", p.Spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"spec.terminationGracePeriodSeconds", p.Spec.TerminationGracePeriodSeconds, &grace},
		{"spec.dnsPolicy", p.Spec.DNSPolicy, corev1.DNSClusterFirst},
		{"spec.volumes[0].configMap.defaultMode", p.Spec.Volumes[0].ConfigMap.DefaultMode, &cmMode},
		{"spec.volumes[1].secret.defaultMode", p.Spec.Volumes[1].Secret.DefaultMode, &secMode},
		{"spec.volumes[2].downwardAPI.defaultMode", p.Spec.Volumes[2].DownwardAPI.DefaultMode, &dwMode},
		{"spec.volumes[2].downwardAPI.items[0].fieldRef.apiVersion", p.Spec.Volumes[2].DownwardAPI.Items[0].FieldRef.APIVersion, "v1"},
		{"spec.volumes[3].projected.defaultMode", p.Spec.Volumes[3].Projected.DefaultMode, &projMode},
		{"spec.volumes[3].projected.sources[0].downwardAPI.items[0].fieldRef.apiVersion", p.Spec.Volumes[3].Projected.Sources[0].DownwardAPI.Items[0].FieldRef.APIVersion, "v1"},
		{"spec.volumes[4].image.pullPolicy", p.Spec.Volumes[4].Image.PullPolicy, corev1.PullAlways},
		{"spec.volumes[5].image.pullPolicy", p.Spec.Volumes[5].Image.PullPolicy, corev1.PullIfNotPresent},
		{"spec.initContainers[0].imagePullPolicy", p.Spec.InitContainers[0].ImagePullPolicy, corev1.PullAlways},
		{"spec.containers[0].imagePullPolicy", p.Spec.Containers[0].ImagePullPolicy, corev1.PullAlways},
		{"spec.containers[1].imagePullPolicy", p.Spec.Containers[1].ImagePullPolicy, corev1.PullIfNotPresent},
		{"spec.containers[2].imagePullPolicy", p.Spec.Containers[2].ImagePullPolicy, corev1.PullIfNotPresent},
		{"spec.containers[3].imagePullPolicy", p.Spec.Containers[3].ImagePullPolicy, corev1.PullAlways},
		{"spec.containers[0].ports[0].protocol", p.Spec.Containers[0].Ports[0].Protocol, corev1.ProtocolTCP},
		{"spec.containers[0].ports[0].hostPort", p.Spec.Containers[0].Ports[0].HostPort, int32(0)},
		{"spec.containers[0].env[0].valueFrom.fieldRef.apiVersion", p.Spec.Containers[0].Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		// Kept as written.
		{"host: metadata.namespace", host.Namespace, "kube-system"},
		{"host: spec.restartPolicy", host.Spec.RestartPolicy, corev1.RestartPolicyNever},
		{"host: spec.terminationGracePeriodSeconds", *host.Spec.TerminationGracePeriodSeconds, int64(5)},
		{"host: spec.containers[0].ports[0].protocol", host.Spec.Containers[0].Ports[0].Protocol, corev1.ProtocolUDP},
		// With the host's network the host port is the container port.
		{"host: spec.containers[0].ports[0].hostPort", host.Spec.Containers[0].Ports[0].HostPort, int32(9000)},
	} {
		if !equalJSON(c.got, c.want) {
			t.Errorf("%s: berth %s, Kubernetes %s", c.field, short(c.got), short(c.want))
		}
	}
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if c.TerminationMessagePath != corev1.TerminationMessagePathDefault || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
			t.Errorf("container %s: termination message %q, %q; Kubernetes %q, %q", c.Name,
				c.TerminationMessagePath, c.TerminationMessagePolicy, corev1.TerminationMessagePathDefault, corev1.TerminationMessageReadFile)
		}
	}
}

func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
