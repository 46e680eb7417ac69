package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// TestInitContainersConfigMapsSecretsAndEnv runs an init container before
// the main one, and projects a ConfigMap and a Secret from the manifest
// directory as files and environment.
func TestInitContainersConfigMapsSecretsAndEnv(t *testing.T) {
	d := startDaemon(t)
	d.apply("app.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  mode: fast
  greeting.txt: hello from a configMap
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
stringData:
  token: s3cret
---
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  volumes:
  - name: work
    emptyDir: {}
  - name: config
    configMap:
      name: app-config
      items: [{key: greeting.txt, path: nested/greeting.txt}]
  - name: secret
    secret:
      secretName: app-secret
  initContainers:
  - name: prepare
    image: berth.test/demo:latest
    command: ["/bin/demo", "write", "/work/ready", "prepared by init"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "env"]
    env:
    - name: MODE
      valueFrom: {configMapKeyRef: {name: app-config, key: mode}}
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: app-secret, key: token}}
    - name: MY_POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: MY_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: URL
      value: "http://$(MY_POD):8080/$(MODE)"
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: config, mountPath: /config}
    - {name: secret, mountPath: /secret, readOnly: true}
  - name: reader
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "read", "/config/nested/greeting.txt"]
    volumeMounts: [{name: config, mountPath: /config}]
`)
	p := d.pod("app")
	init := p.Status.InitContainerStatuses
	if len(init) != 1 || init[0].State.Terminated == nil || init[0].State.Terminated.ExitCode != 0 {
		t.Fatalf("init container did not complete before the pod ran: %s", toJSON(init))
	}
	var env string
	testutil.WaitFor(t, 10*time.Second, "main to print its environment", func() bool {
		env = d.logOf(p, "main", 0)
		return strings.Contains(env, "URL=")
	})
	for _, want := range []string{"MODE=fast", "TOKEN=s3cret", "MY_POD=app", "MY_IP=" + p.Status.PodIP, "URL=http://app:8080/fast"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the reader to print the projected configMap file", func() bool {
		return strings.Contains(d.logOf(p, "reader", 0), "hello from a configMap")
	})
}
