package e2e

import (
	"os"
	"path/filepath"
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

// TestConfigMapAndSecretVolumesFollowTheirDocuments: as with the kubelet,
// a changed ConfigMap or Secret reaches the files of a running pod's
// volumes (not its environment, and without restarting it), and a
// document that goes away leaves the files and a FailedMount event.
func TestConfigMapAndSecretVolumesFollowTheirDocuments(t *testing.T) {
	d := startDaemon(t)
	objects := func(greeting, token string) string {
		return `apiVersion: v1
kind: ConfigMap
metadata:
  name: live-config
data:
  greeting: ` + greeting + `
---
apiVersion: v1
kind: Secret
metadata:
  name: live-secret
stringData:
  token: ` + token + "\n"
	}
	d.apply("objects.yaml", objects("before", "t1"))
	d.apply("live.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  volumes:
  - name: config
    configMap: {name: live-config}
  - name: secret
    secret: {secretName: live-secret}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: live-config, key: greeting}}
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: secret, mountPath: /etc/secret}
`)
	uid := d.pod("live").Metadata.UID
	read := func(path string) string {
		out, _ := d.berth("exec", "live", "--", "/bin/demo", "read", path)
		return strings.TrimSpace(out)
	}
	if got := read("/etc/config/greeting"); got != "before" {
		t.Fatalf("/etc/config/greeting = %q, want before", got)
	}
	d.apply("objects.yaml", objects("after", "t2"))
	testutil.WaitFor(t, 30*time.Second, "the new ConfigMap and Secret in the volumes", func() bool {
		return read("/etc/config/greeting") == "after" && read("/etc/secret/token") == "t2"
	})
	if p := d.pod("live"); p.Metadata.UID != uid {
		t.Errorf("the pod was re-created (uid %s -> %s)", uid, p.Metadata.UID)
	}
	if out := d.mustBerth("exec", "live", "--", "/bin/demo", "env"); !strings.Contains(out, "GREETING=before\n") {
		t.Errorf("the environment changed with the ConfigMap:\n%s", out)
	}

	// The ConfigMap goes: the files stay, an event says why they are stale.
	d.apply("objects.yaml", `apiVersion: v1
kind: Secret
metadata:
  name: live-secret
stringData:
  token: t2
`)
	testutil.WaitFor(t, 30*time.Second, "a FailedMount event", func() bool {
		return strings.Contains(d.mustBerth("get", "events"), "FailedMount")
	})
	if got := read("/etc/config/greeting"); got != "after" {
		t.Errorf("after the ConfigMap went away, /etc/config/greeting = %q, want the last content, after", got)
	}
}

// TestRestartGetsTheCurrentEnvironment: as with the kubelet, a container's
// next run (a restart) gets its environment from the ConfigMaps as they are
// then, while exec into a running one sees what it started with
// (TestExecEnvIsTheContainers).
func TestRestartGetsTheCurrentEnvironment(t *testing.T) {
	d := startDaemon(t)
	d.apply("loop-cm.yaml", greetingConfigMap("loop-config", "before"))
	// A container that prints its environment and exits: restartPolicy
	// Always restarts it (the harness's back-off is under a second).
	looper := filepath.Join(d.dir, "looper.yaml")
	if err := os.WriteFile(looper, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: looper
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "env"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: loop-config, key: greeting}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustBerth("apply", "--wait=false", "-f", looper)
	logs := func() string {
		out, _ := d.berth("logs", "looper")
		return out
	}
	testutil.WaitFor(t, 60*time.Second, "a run with GREETING=before", func() bool {
		return strings.Contains(logs(), "GREETING=before")
	})
	d.apply("loop-cm.yaml", greetingConfigMap("loop-config", "after"))
	testutil.WaitFor(t, 60*time.Second, "a restarted run with GREETING=after", func() bool {
		return strings.Contains(logs(), "GREETING=after")
	})
}

// greetingConfigMap is a ConfigMap name whose key "greeting" holds value.
func greetingConfigMap(name, value string) string {
	return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ` + name + `
data:
  greeting: ` + value + "\n"
}
