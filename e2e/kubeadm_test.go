package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/manifests"
)

// kubeadmDir holds static pods in the shapes kubeadm writes to
// /etc/kubernetes/manifests; relative to the package's directory, where
// tests run (the VM runner copies testdata there).
func kubeadmDir() string {
	return filepath.Join("testdata", "kubeadm")
}

// kubeadmPod is one of the static pods as the test runs it.
type kubeadmPod struct {
	file      string
	component string // the component label: etcd, kube-apiserver, kube-scheduler
	name      string
	port      int    // the free port that stands for the probed one
	scheme    string // of the probes: HTTP or HTTPS
	decoded   *manifests.Pod
}

// TestKubeadmStaticPods decodes, validates and runs kubeadm's etcd,
// kube-apiserver and kube-scheduler static pods, each as kubeadm writes it
// but for what a test must not take from the host: the image and command
// are the test workload's HTTP(S) server answering the probed paths on
// 127.0.0.1, the probed port is a free one (the pods share the host's
// network), the apiserver's probe host (the node's advertise address) is
// 127.0.0.1, and each hostPath is a temp dir standing for the host's /.
// Every other field is kept, and the daemon serves the spec it was given.
// All three pods pass their startup, readiness and liveness probes (over
// HTTPS with the certificate in the hostPath pki dir for the apiserver, a
// self-signed one for the scheduler) and become Ready; the data dir is the
// host's, the certificate dirs are read-only.
func TestKubeadmStaticPods(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(kubeadmDir(), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("want the etcd, kube-apiserver and kube-scheduler manifests, found %v", files)
	}
	var pods []*kubeadmPod
	for _, path := range files {
		pod, problems := decodeOne(t, path)
		checkKubeadmShape(t, filepath.Base(path), pod)
		checkKubeadmWarnings(t, filepath.Base(path), problems)
		pods = append(pods, &kubeadmPod{file: path, component: pod.Labels["component"], name: pod.Name, decoded: pod})
	}
	if t.Failed() {
		t.FailNow()
	}

	d := startDaemon(t)
	root := filepath.Join(d.dir, "host") // stands for the host's /
	pki := filepath.Join(root, "etc", "kubernetes", "pki")
	if err := os.MkdirAll(pki, 0o755); err != nil {
		t.Fatal(err)
	}
	writeServingCert(t, filepath.Join(pki, "apiserver.crt"), filepath.Join(pki, "apiserver.key"))
	kubeconfig := filepath.Join(root, "etc", "kubernetes", "scheduler.conf")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		p.port = freePort(t)
		out := rewriteKubeadm(t, p, root)
		dst := filepath.Join(d.manifests, filepath.Base(p.file))
		if err := os.WriteFile(dst+".tmp", out, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			t.Fatal(err)
		}
	}
	client := api.NewClient(d.sock)
	if err := client.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The startup probes begin after initialDelaySeconds: 10, then
	// readiness every second.
	for _, p := range pods {
		testutil.WaitFor(t, 90*time.Second, p.name+" Ready", func() bool {
			got, err := client.Pod(context.Background(), "kube-system", p.name)
			return err == nil && podCondition(got, api.PodReady) == api.ConditionTrue
		})
	}

	for _, p := range pods {
		got, err := client.Pod(context.Background(), "kube-system", p.name)
		if err != nil {
			t.Fatal(err)
		}
		if podCondition(got, "ContainersReady") != api.ConditionTrue || got.Status.Phase != api.PodRunning {
			t.Errorf("%s: want Running and ContainersReady: %s", p.name, toJSON(got.Status))
		}
		c := ctrStatus(t, got, p.component)
		if !c.Ready || c.Started == nil || !*c.Started || c.RestartCount != 0 || c.State.Running == nil {
			t.Errorf("%s: want the container running, started and ready without a restart: %s", p.name, toJSON(c))
		}
		// The daemon serves the spec of the file it read, every field kept.
		rewritten, _ := decodeOne(t, filepath.Join(d.manifests, filepath.Base(p.file)))
		if !manifests.SpecEqual(rewritten, &manifests.Pod{Spec: got.Spec}) {
			t.Errorf("%s: served spec differs from the manifest's:\nserved: %s\nfile:   %s", p.name, toJSON(got.Spec), toJSON(rewritten.Spec))
		}
		checkKubeadmShape(t, p.name+" as served", &manifests.Pod{ObjectMeta: got.Metadata.ObjectMeta, Spec: got.Spec})
		// What the probes ask answers, on the host's loopback.
		for _, path := range []string{"/livez", "/readyz"} {
			if code := getProbed(t, p.scheme, p.port, path); code != http.StatusOK {
				t.Errorf("%s: GET %s on 127.0.0.1:%d: status %d", p.name, path, p.port, code)
			}
		}
		evs, err := client.Events(context.Background(), time.Time{}, api.PodObject("kube-system", p.name))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Reason == "Unhealthy" || e.Reason == "Killing" {
				t.Errorf("%s: a probe failed: %s", p.name, toJSON(e))
			}
		}
	}

	// etcd's data dir is the host's directory.
	d.mustBerth("exec", "-n", "kube-system", "etcd-cp-berth", "--", "/bin/demo", "write", "/var/lib/etcd/member/snap/db", "data")
	if b, err := os.ReadFile(filepath.Join(root, "var", "lib", "etcd", "member", "snap", "db")); err != nil || string(b) != "data" {
		t.Errorf("etcd's data did not reach the hostPath dir: %q, %v", b, err)
	}
	// The apiserver's certificate dirs are read-only; the scheduler reads
	// its kubeconfig file.
	if out, err := d.berth("exec", "-n", "kube-system", "kube-apiserver-cp-berth", "--", "/bin/demo", "write", "/etc/kubernetes/pki/x", "x"); err == nil {
		t.Errorf("write into the read-only pki dir succeeded: %s", out)
	}
	if out := d.mustBerth("exec", "-n", "kube-system", "kube-scheduler-cp-berth", "--", "/bin/demo", "read", "/etc/kubernetes/scheduler.conf"); !strings.Contains(out, "kind: Config") {
		t.Errorf("scheduler.conf in the container: %q", out)
	}
}

// decodeOne decodes and validates the one pod of the file at path, and
// returns it with the file's warnings.
func decodeOne(t *testing.T, path string) (*manifests.Pod, []manifests.Problem) {
	t.Helper()
	f, err := manifests.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.HasErrors() || len(f.Docs) != 1 || f.Docs[0].Pod == nil {
		t.Fatalf("%s: want one valid pod: %v", path, f.Problems())
	}
	return f.Docs[0].Pod, f.Problems()
}

// checkKubeadmWarnings checks that the cluster-only fields of a kubeadm
// static pod, and only those, are warned about: its priority and the
// server-owned fields a generated file carries.
func checkKubeadmWarnings(t *testing.T, what string, problems []manifests.Problem) {
	t.Helper()
	want := map[string]bool{"spec.priorityClassName": false, "spec.priority": false}
	for _, p := range problems {
		switch {
		case p.Severity != manifests.Warning:
			t.Errorf("%s: %s", what, p)
		case p.Path == "metadata.creationTimestamp" || p.Path == "status":
		default:
			if _, ok := want[p.Path]; !ok {
				t.Errorf("%s: unexpected warning %s", what, p)
			}
			want[p.Path] = true
		}
	}
	for path, seen := range want {
		if !seen {
			t.Errorf("%s: no cluster-only warning for %s", what, path)
		}
	}
}

// checkKubeadmShape checks that the decoded pod kept the fields that make
// a kubeadm static pod.
func checkKubeadmShape(t *testing.T, what string, p *manifests.Pod) {
	t.Helper()
	s := p.Spec
	if !s.HostNetwork {
		t.Errorf("%s: hostNetwork lost", what)
	}
	if s.SecurityContext == nil || s.SecurityContext.SeccompProfile == nil || s.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("%s: pod seccompProfile lost: %s", what, toJSON(s.SecurityContext))
	}
	if p.Namespace != "kube-system" || p.Labels["tier"] != "control-plane" || p.Labels["component"] == "" {
		t.Errorf("%s: metadata lost: %s", what, toJSON(p.ObjectMeta))
	}
	if len(s.Containers) != 1 {
		t.Fatalf("%s: want one container, got %d", what, len(s.Containers))
	}
	c := s.Containers[0]
	if _, ok := c.Resources.Requests["cpu"]; !ok {
		t.Errorf("%s: cpu request lost: %s", what, toJSON(c.Resources))
	}
	probes := map[string]*manifests.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
	for kind, pr := range probes {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Host == "" || pr.HTTPGet.Path == "" || pr.HTTPGet.Scheme == "" || pr.TimeoutSeconds != 15 || pr.PeriodSeconds == 0 || pr.FailureThreshold == 0 {
			t.Errorf("%s: %s probe lost its httpGet host, path, scheme or timings: %s", what, kind, toJSON(pr))
		}
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = true
	}
	if len(s.Volumes) == 0 {
		t.Errorf("%s: no volumes", what)
	}
	for _, v := range s.Volumes {
		if v.HostPath == nil || (v.HostPath.Type != "DirectoryOrCreate" && v.HostPath.Type != "FileOrCreate") || !mounts[v.Name] {
			t.Errorf("%s: volume %s is not a mounted hostPath of type DirectoryOrCreate or FileOrCreate: %s", what, v.Name, toJSON(v))
		}
	}
}

// rewriteKubeadm returns p's file rewritten to run here (see
// TestKubeadmStaticPods), and sets p.scheme.
func rewriteKubeadm(t *testing.T, p *kubeadmPod, root string) []byte {
	t.Helper()
	data, err := os.ReadFile(p.file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	spec := doc["spec"].(map[string]any)
	c := spec["containers"].([]any)[0].(map[string]any)
	probed := 0
	for _, key := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		get := c[key].(map[string]any)["httpGet"].(map[string]any)
		port := get["port"].(int)
		if probed != 0 && port != probed {
			t.Fatalf("%s: probes on ports %d and %d; the workload serves one", p.file, probed, port)
		}
		probed = port
		get["port"] = p.port
		get["host"] = "127.0.0.1"
		p.scheme = get["scheme"].(string)
	}
	cmd := []any{"/bin/demo", "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(p.port)}
	switch p.component {
	case "kube-apiserver":
		// The serving certificate kubeadm puts in the pki dir.
		cmd = append(cmd, "--tls-cert", "/etc/kubernetes/pki/apiserver.crt", "--tls-key", "/etc/kubernetes/pki/apiserver.key")
	case "kube-scheduler":
		cmd = append(cmd, "--tls")
	case "etcd":
	default:
		t.Fatalf("%s: unknown component %q", p.file, p.component)
	}
	if (p.scheme == "HTTPS") != (p.component != "etcd") {
		t.Fatalf("%s: probe scheme %s for %s", p.file, p.scheme, p.component)
	}
	c["image"] = testutil.DefaultRef
	c["command"] = cmd
	for _, item := range spec["volumes"].([]any) {
		hp := item.(map[string]any)["hostPath"].(map[string]any)
		hp["path"] = filepath.Join(root, hp["path"].(string))
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// getProbed asks the workload on 127.0.0.1:port for path as the probes
// do (HTTPS unverified) and returns the status code.
func getProbed(t *testing.T, scheme string, port int, path string) int {
	t.Helper()
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
	}
	resp, err := client.Get(fmt.Sprintf("%s://%s%s", strings.ToLower(scheme), net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), path))
	if err != nil {
		t.Errorf("GET %s on port %d: %v", path, port, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// writeServingCert writes a self-signed serving certificate for
// 127.0.0.1 and its key, in PEM, as kubeadm's certs phase writes
// apiserver.crt and apiserver.key.
func writeServingCert(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}
