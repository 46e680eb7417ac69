package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/manifests"
)

// realWorldDir is the manifests package's corpus of Pods in the shapes
// real manifests have.
func realWorldDir() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "manifests", "testdata", "realworld")
}

// TestRealWorldCorpusRuns runs, in one daemon and all at once, every file
// of the real-world corpus that berth accepts, rewritten so that it can
// run here: every image is the test workload, every container sleeps
// (init containers exit 0: the workload image holds only /bin/demo, so no
// original command could run), hostPath volumes are temp dirs and hostPorts
// free ports; a container whose probes ask on a port serves them instead
// of sleeping, and exec probes and hooks run `demo exit 0` (serveProbes).
// It reports how many pods reach Running and Ready and fails for each
// accepted file whose pod does not: an accepted manifest must run, and
// its probes pass. As more fields are supported, more files validate and
// run here without a change to this test.
func TestRealWorldCorpusRuns(t *testing.T) {
	d := startDaemon(t)
	// The corpus's Localhost seccomp profile, as a profile that allows all.
	profiles := filepath.Join(d.state, "seccomp", "profiles")
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profiles, "audit.json"), []byte(`{"defaultAction": "SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(realWorldDir(), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := &demoRewriter{t: t, hostDir: filepath.Join(d.dir, "hostpath")}
	// The hostPath stand-ins sit on a shared mount, as a systemd host's
	// directories do, so that HostToContainer mounts of them are accepted.
	sharedMount(t, r.hostDir)
	want := map[string]string{} // namespace/name -> file
	for _, path := range files {
		f, err := manifests.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.HasErrors() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out, pod := r.rewrite(data)
		want[pod] = filepath.Base(path)
		tmp := filepath.Join(d.dir, filepath.Base(path))
		if err := os.WriteFile(tmp, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(d.manifests, filepath.Base(path))); err != nil {
			t.Fatal(err)
		}
	}
	if len(want) == 0 {
		t.Fatal("no file of the real-world corpus validates")
	}
	t.Logf("running the %d of %d corpus files berth accepts", len(want), len(files))
	client := api.NewClient(d.sock)
	if err := client.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	var pods map[string]api.Pod
	running := func() int {
		ps, err := client.Pods(context.Background())
		if err != nil {
			return 0
		}
		pods = map[string]api.Pod{}
		n := 0
		for _, p := range ps {
			key := p.Metadata.Namespace + "/" + p.Metadata.Name
			pods[key] = p
			if _, ok := want[key]; ok && allRunning(p) {
				n++
			}
		}
		return n
	}
	t.Run("wait", func(t *testing.T) {
		testutil.WaitFor(t, 60*time.Second, "every accepted corpus pod to be Running", func() bool {
			return running() == len(want)
		})
	})
	n := running()
	t.Logf("real-world corpus: %d of %d accepted pods reached Running", n, len(want))
	// Probes pass too: the workload serves what they ask. The kubeadm pods'
	// startup probes begin after initialDelaySeconds: 10.
	ready := func() int {
		running()
		r := 0
		for key := range want {
			if p, ok := pods[key]; ok && podCondition(p, api.PodReady) == api.ConditionTrue {
				r++
			}
		}
		return r
	}
	t.Run("ready", func(t *testing.T) {
		testutil.WaitFor(t, 90*time.Second, "every accepted corpus pod to be Ready", func() bool {
			return ready() == len(want)
		})
	})
	restarts := int32(0)
	for key := range want {
		for _, c := range pods[key].Status.ContainerStatuses {
			restarts += c.RestartCount
		}
	}
	t.Logf("real-world corpus: %d of %d accepted pods Ready, %d container restarts", ready(), len(want), restarts)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		p, ok := pods[key]
		switch {
		case !ok:
			t.Errorf("%s: pod %s was not created", want[key], key)
		case !allRunning(p):
			t.Errorf("%s: pod %s is not Running: %s", want[key], key, toJSON(p.Status))
		case podCondition(p, api.PodReady) != api.ConditionTrue:
			t.Errorf("%s: pod %s is not Ready: %s", want[key], key, toJSON(p.Status))
		}
	}
}

// allRunning reports whether the pod is Running with every container
// running.
func allRunning(p api.Pod) bool {
	if p.Status.Phase != api.PodRunning || len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// demoRewriter rewrites corpus files to run on the test workload image.
type demoRewriter struct {
	t       *testing.T
	hostDir string // parent of the temp dirs that replace hostPath volumes
}

// rewrite returns the file's documents rewritten, and the namespace/name of
// its pod.
func (r *demoRewriter) rewrite(data []byte) ([]byte, string) {
	t := r.t
	var out bytes.Buffer
	var pod string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if doc["kind"] == "Pod" {
			pod = r.pod(doc)
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes(), pod
}

func (r *demoRewriter) pod(doc map[string]any) string {
	meta := doc["metadata"].(map[string]any)
	name := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if ns == "" {
		ns = "default"
	}
	spec := doc["spec"].(map[string]any)
	hostNetwork, _ := spec["hostNetwork"].(bool)
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, item := range list {
			c := item.(map[string]any)
			c["image"] = testutil.DefaultRef
			c["command"] = []any{"/bin/demo", "sleep"}
			if key == "initContainers" && c["restartPolicy"] != "Always" {
				c["command"] = []any{"/bin/demo", "exit", "0"}
			}
			delete(c, "args")
			delete(c, "workingDir")
			// Lifecycle hooks run, as /bin/demo: the original commands could not.
			lc, _ := c["lifecycle"].(map[string]any)
			for _, hook := range []string{"postStart", "preStop"} {
				if h, _ := lc[hook].(map[string]any); h != nil && h["exec"] != nil {
					h["exec"] = map[string]any{"command": []any{"/bin/demo", "exit", "0"}}
				}
			}
			ports, _ := c["ports"].([]any)
			for _, item := range ports {
				p := item.(map[string]any)
				if _, ok := p["hostPort"]; !ok {
					continue
				}
				port := freePort(r.t)
				p["hostPort"] = port
				if hostNetwork {
					p["containerPort"] = port
				}
			}
			if cmd := r.serveProbes(c, hostNetwork); cmd != nil {
				c["command"] = cmd
			}
		}
	}
	vols, _ := spec["volumes"].([]any)
	for _, item := range vols {
		v := item.(map[string]any)
		hp, ok := v["hostPath"].(map[string]any)
		if !ok {
			continue
		}
		path := filepath.Join(r.hostDir, ns+"-"+name+"-"+v["name"].(string))
		hp["path"] = path
		switch hp["type"] {
		case "FileOrCreate":
			r.mkdir(r.hostDir)
		case "File":
			r.mkdir(r.hostDir)
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				r.t.Fatal(err)
			}
		default:
			r.mkdir(path)
		}
	}
	return ns + "/" + name
}

// serveProbes makes the workload answer what container c's probes ask,
// and returns its command, nil when they ask nothing on a port: an HTTP(S)
// server on every port an httpGet or tcpSocket probe names (any path
// answers 200), or the gRPC health server on a grpc probe's port. Exec
// commands of probes and lifecycle hooks become `demo exit 0`: the
// original programs are not in the workload image. In a host-network pod
// each probed port is a free one and a probe host (the node's address) is
// 127.0.0.1, as hostPorts and hostPaths are the test's own.
func (r *demoRewriter) serveProbes(c map[string]any, hostNetwork bool) []any {
	named := map[string]int{}
	ports, _ := c["ports"].([]any)
	for _, item := range ports {
		p := item.(map[string]any)
		if name, ok := p["name"].(string); ok {
			named[name] = p["containerPort"].(int)
		}
	}
	moved := map[int]int{} // a host-network pod's probed port -> the free one
	var http, grpc []int
	tls, plain := false, false
	port := func(action map[string]any) int {
		n, ok := action["port"].(int)
		if !ok {
			n = named[action["port"].(string)]
		}
		if hostNetwork {
			if moved[n] == 0 {
				moved[n] = freePort(r.t)
			}
			n = moved[n]
			action["port"] = n
			if _, ok := action["host"]; ok {
				action["host"] = "127.0.0.1"
			}
		}
		return n
	}
	handlers := []map[string]any{}
	for _, key := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		if p, ok := c[key].(map[string]any); ok {
			handlers = append(handlers, p)
		}
	}
	if lc, ok := c["lifecycle"].(map[string]any); ok {
		for _, key := range []string{"postStart", "preStop"} {
			if h, ok := lc[key].(map[string]any); ok {
				handlers = append(handlers, h)
			}
		}
	}
	for _, h := range handlers {
		if e, ok := h["exec"].(map[string]any); ok {
			e["command"] = []any{"/bin/demo", "exit", "0"}
		}
		if a, ok := h["httpGet"].(map[string]any); ok {
			http = append(http, port(a))
			if strings.EqualFold(fmt.Sprint(a["scheme"]), "HTTPS") {
				tls = true
			} else {
				plain = true
			}
		}
		if a, ok := h["tcpSocket"].(map[string]any); ok {
			http = append(http, port(a))
		}
		if a, ok := h["grpc"].(map[string]any); ok {
			grpc = append(grpc, port(a))
		}
	}
	slices.Sort(http)
	http = slices.Compact(http)
	switch {
	case len(http) > 0 && len(grpc) == 0 && !(tls && plain):
		cmd := []any{"/bin/demo", "serve", "--any-path"}
		for _, p := range http {
			cmd = append(cmd, "--port", strconv.Itoa(p))
		}
		if tls {
			cmd = append(cmd, "--tls")
		}
		return cmd
	case len(grpc) == 1 && len(http) == 0:
		return []any{"/bin/demo", "grpc-health", strconv.Itoa(grpc[0])}
	case len(http) > 0 || len(grpc) > 0:
		r.t.Fatalf("container %s: probes on HTTP and HTTPS or gRPC at once: the workload serves one kind", c["name"])
	}
	return nil
}

func (r *demoRewriter) mkdir(path string) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		r.t.Fatal(fmt.Errorf("make hostPath stand-in: %w", err))
	}
}
