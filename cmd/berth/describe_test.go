package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// crashLoopPod is a pod whose one container exited 3 and now backs off.
func crashLoopPod(t0 time.Time) api.Pod {
	mem, err := manifests.ParseQuantity("64Mi")
	if err != nil {
		panic(err)
	}
	start := t0.Add(-time.Hour)
	return api.Pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: api.ObjectMeta{ObjectMeta: manifests.ObjectMeta{Name: "loop", Namespace: "default", UID: "u-1",
			Labels:      map[string]string{"app": "loop", "tier": "x"},
			Annotations: map[string]string{api.AnnotationFile: "/etc/berth/manifests/loop.yaml", api.AnnotationInfraPID: "42", "team": "a"},
		}},
		Spec: manifests.PodSpec{
			Volumes: []manifests.Volume{{Name: "data", EmptyDir: &manifests.EmptyDirVolumeSource{}},
				{Name: "tools", Image: &manifests.ImageVolumeSource{Reference: "localhost/tools:1", PullPolicy: "IfNotPresent"}}},
			Containers: []manifests.Container{{
				Name: "app", Image: "localhost/demo:1", Command: []string{"/bin/demo"}, Args: []string{"exit", "3"},
				Env:          []manifests.EnvVar{{Name: "MODE", Value: "x"}, {Name: "PASS", ValueFrom: &manifests.EnvVarSource{SecretKeyRef: &manifests.KeySelector{Name: "s", Key: "k"}}}},
				Resources:    manifests.ResourceRequirements{Limits: map[string]manifests.Quantity{"memory": mem}},
				VolumeMounts: []manifests.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
			}},
		},
		Status: api.PodStatus{
			Phase: api.PodRunning, PodIP: "10.1.0.5", StartTime: &start,
			Conditions: []api.PodCondition{
				{Type: api.PodReady, Status: api.ConditionFalse},
				{Type: api.ConditionManifestValid, Status: api.ConditionFalse, Message: "loop.yaml: one\nloop.yaml: two"},
			},
			ContainerStatuses: []api.ContainerStatus{{
				Name: "app", Image: "localhost/demo:1", ImageID: "sha256:abc", RestartCount: 4,
				State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: api.ReasonCrashLoopBackOff, Message: "back-off 40s restarting failed container app"}},
				LastState: kube.ContainerState{Terminated: &kube.StateTerminated{
					ExitCode: 3, Reason: "Error", StartedAt: t0.Add(-2 * time.Second), FinishedAt: t0.Add(-time.Second),
				}},
			}},
		},
	}
}

func TestDescribeCrashLoopingPod(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	p := crashLoopPod(t0)
	events := []api.Event{
		{Time: t0.Add(-time.Hour), Type: api.EventNormal, Reason: api.EventCreated, Object: "pod/default/loop", Message: "Created pod from /etc/berth/manifests/loop.yaml"},
		{Time: t0.Add(-5 * time.Second), FirstTime: t0.Add(-2 * time.Minute), Count: 5, Type: api.EventWarning, Reason: api.EventBackOff, Object: "pod/default/loop", Container: "app", Message: "Back-off restarting failed container app"},
		{Time: t0, Type: api.EventWarning, Reason: api.EventBackOff, Object: "pod/default/other", Container: "app", Message: "not this pod"},
		{Time: t0, Type: api.EventWarning, Reason: api.EventFailedValidation, Object: "/etc/berth/manifests/loop.yaml", Message: "loop.yaml: bad"},
	}
	var out bytes.Buffer
	if err := describePod(&out, p, eventsOf(p, events), t0); err != nil {
		t.Fatal(err)
	}
	// Alignment depends on neighbouring lines: compare with single spaces.
	squash := func(s string) string { return regexp.MustCompile(` +`).ReplaceAllString(s, " ") }
	got := squash(out.String())
	for _, want := range []string{
		"Name:         loop",
		"Labels:       app=loop\n              tier=x",
		"Status:       CrashLoopBackOff",
		"IP:           10.1.0.5",
		"Annotations:  team=a\nStatus:",
		"File:         /etc/berth/manifests/loop.yaml\nInfra PID:    42\nProblems:\n  loop.yaml: one\n  loop.yaml: two",
		"Conditions:\n  Type                    Status\n  Ready                   False\n  berth.io/ManifestValid  False",
		"Image ID:       sha256:abc",
		"State:          Waiting\n      Reason:       CrashLoopBackOff",
		"Last State:     Terminated\n      Reason:       Error\n      Exit Code:    3",
		"Restart Count:  4",
		"Limits:\n      memory:     64Mi",
		"PASS:         <set to the key 'k' in secret 's'>",
		"/data from data (ro)",
		"EmptyDir (a temporary directory",
		"Type: Image (a container image or OCI artifact)\n    Reference: localhost/tools:1\n    PullPolicy: IfNotPresent",
		"Warning  BackOff           5s (x5 over 2m0s)  container/app  Back-off restarting failed container app",
		"Warning  FailedValidation  0s",
		"Normal   Created           60m",
	} {
		if want = squash(want); !strings.Contains(got, want) {
			t.Errorf("describe output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "not this pod") {
		t.Errorf("describe shows another pod's event:\n%s", got)
	}
}

func TestEventsTableAndFilter(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	evs := []api.Event{
		{Time: t0.Add(-3 * time.Second), Type: "Normal", Reason: "Started", Object: "pod/default/web", Container: "srv", Message: "Started container srv"},
		{Time: t0.Add(-2 * time.Second), Type: "Warning", Reason: "BackOff", Object: "pod/kube-system/etcd", Container: "etcd", Message: "Back-off"},
		{Time: t0.Add(-time.Second), Type: "Warning", Reason: "FailedValidation", Object: "/m/bad.yaml", Message: "bad"},
	}
	for _, tt := range []struct {
		name string
		f    eventFilter
		want []string
	}{
		{"default namespace", eventFilter{namespace: "default"}, []string{"pod/web/srv", "/m/bad.yaml"}},
		{"other namespace", eventFilter{namespace: "kube-system"}, []string{"pod/etcd/etcd", "/m/bad.yaml"}},
		{"all", eventFilter{all: true}, []string{"pod/web/srv", "pod/etcd/etcd", "/m/bad.yaml"}},
	} {
		var got []string
		for _, e := range tt.f.keep(evs) {
			got = append(got, eventObject(e))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	var out bytes.Buffer
	if err := printEvents(&out, evs, true, true, t0); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE     LAST SEEN   TYPE      REASON             OBJECT          MESSAGE
default       3s          Normal    Started            pod/web/srv     Started container srv
kube-system   2s          Warning   BackOff            pod/etcd/etcd   Back-off
<none>        1s          Warning   FailedValidation   /m/bad.yaml     bad
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestPodChanges(t *testing.T) {
	pod := func(name, status string) api.Pod {
		return api.Pod{Metadata: api.ObjectMeta{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: name}}, Status: api.PodStatus{Phase: status}}
	}
	sig := func(p api.Pod) string { return podSignature(p, "") }
	var seen map[string]string
	steps := []struct {
		pods []api.Pod
		want []string
	}{
		{[]api.Pod{pod("a", "Pending"), pod("b", "Running")}, []string{"a", "b"}}, // first list: everything
		{[]api.Pod{pod("a", "Pending"), pod("b", "Running")}, nil},                // nothing changed
		{[]api.Pod{pod("a", "Running"), pod("b", "Running")}, []string{"a"}},      // a changed
		{[]api.Pod{pod("b", "Running"), pod("c", "Pending")}, []string{"c"}},      // a gone, c new
		{nil, nil}, // everything gone
		{[]api.Pod{pod("a", "Running")}, []string{"a"}}, // a back
	}
	for i, st := range steps {
		var changed []api.Pod
		changed, seen = podChanges(seen, st.pods, sig)
		var got []string
		for _, p := range changed {
			got = append(got, p.Metadata.Name)
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d: changed %v, want %v", i, got, st.want)
		}
	}
	// AGE alone is no change.
	p := pod("a", "Running")
	t1 := time.Unix(100, 0)
	p.Status.StartTime = &t1
	q := p
	t2 := time.Unix(200, 0)
	q.Status.StartTime = &t2
	if sig(p) != sig(q) {
		t.Error("a different age counts as a change")
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		out, code := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "berth") || !strings.Contains(out, "__complete") {
			t.Errorf("berth completion %s: exit %d, output %.200q", shell, code, out)
		}
	}
	// Without a daemon, completing a pod name offers nothing and no files.
	out, code := run(t, "--socket", t.TempDir()+"/none.sock", "__complete", "describe", "pod", "")
	if code != 0 || !strings.HasPrefix(out, ":4") {
		t.Errorf("pod name completion without a daemon: exit %d, output %q", code, out)
	}
}
