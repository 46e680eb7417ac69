package manifests

import "testing"

func TestValidateLifecycle(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	exec := &LifecycleHandler{Exec: &ExecAction{Command: []string{"true"}}}
	linux := func(p *Pod) { p.Spec.OS = &PodOS{Name: "linux"} }
	tests := []struct {
		name   string
		mutate func(*Pod)
		path   string
		sev    Severity
	}{
		{"exec hooks", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PostStart: exec, PreStop: exec}
		}, "", 0},
		{"httpGet hook", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: IntOrString{IntVal: 8080}, Scheme: "HTTP"}}}
		}, "", 0},
		{"sleep as long as the grace period", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 30}}}
		}, "", 0},
		{"sleep zero", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{}}}
		}, "", 0},
		{"sleep past the grace period", func(p *Pod) {
			g := int64(5)
			p.Spec.TerminationGracePeriodSeconds = &g
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 6}}}
		}, "spec.containers[0].lifecycle.preStop.sleep.seconds", Error},
		{"negative sleep", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{Sleep: &SleepAction{Seconds: -1}}}
		}, "spec.containers[0].lifecycle.postStart.sleep.seconds", Error},
		{"no action", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{}}
		}, "spec.containers[0].lifecycle.postStart", Error},
		{"two actions", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Exec: exec.Exec, Sleep: &SleepAction{Seconds: 1}}}
		}, "spec.containers[0].lifecycle.preStop", Error},
		{"exec without command", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Exec: &ExecAction{}}}
		}, "spec.containers[0].lifecycle.preStop.exec.command", Error},
		{"httpGet port out of range", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: IntOrString{IntVal: 70000}}}}
		}, "spec.containers[0].lifecycle.postStart.httpGet.port", Error},
		{"httpGet scheme", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: IntOrString{IntVal: 80}, Scheme: "FTP"}}}
		}, "spec.containers[0].lifecycle.postStart.httpGet.scheme", Error},
		{"tcpSocket hook", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{TCPSocket: &TCPSocketAction{Port: IntOrString{IntVal: 80}}}}
		}, "spec.containers[0].lifecycle.preStop.tcpSocket", Unsupported},
		{"init container hook", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "init", Image: "x", Lifecycle: &Lifecycle{PreStop: exec}}}
		}, "spec.initContainers[0].lifecycle", Error},
		{"sidecar hooks", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "side", Image: "x", RestartPolicy: str("Always"), Lifecycle: &Lifecycle{PostStart: exec, PreStop: exec}}}
		}, "", 0},
		{"sidecar hook checked as a container's", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "side", Image: "x", RestartPolicy: str("Always"), Lifecycle: &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 31}}}}}
		}, "spec.initContainers[0].lifecycle.preStop.sleep.seconds", Error},
		{"sidecar tcpSocket hook", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "side", Image: "x", RestartPolicy: str("Always"), Lifecycle: &Lifecycle{PostStart: &LifecycleHandler{TCPSocket: &TCPSocketAction{Port: IntOrString{IntVal: 80}}}}}}
		}, "spec.initContainers[0].lifecycle.postStart.tcpSocket", Unsupported},
		{"stop signal", func(p *Pod) {
			linux(p)
			p.Spec.Containers[0].Lifecycle = &Lifecycle{StopSignal: str("SIGUSR1")}
		}, "", 0},
		{"real-time stop signal", func(p *Pod) {
			linux(p)
			p.Spec.Containers[0].Lifecycle = &Lifecycle{StopSignal: str("SIGRTMAX-14")}
		}, "", 0},
		{"stop signal past the list", func(p *Pod) {
			linux(p)
			p.Spec.Containers[0].Lifecycle = &Lifecycle{StopSignal: str("SIGRTMAX-15")}
		}, "spec.containers[0].lifecycle.stopSignal", Error},
		{"stop signal without its prefix", func(p *Pod) {
			linux(p)
			p.Spec.Containers[0].Lifecycle = &Lifecycle{StopSignal: str("USR1")}
		}, "spec.containers[0].lifecycle.stopSignal", Error},
		{"stop signal without spec.os", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle = &Lifecycle{StopSignal: str("SIGINT")}
		}, "spec.containers[0].lifecycle.stopSignal", Error},
	}
	for _, tt := range tests {
		p := goodPod()
		tt.mutate(p)
		ps := ValidatePod(p)
		if tt.path == "" {
			if len(ps) != 0 {
				t.Errorf("%s: got %v, want no problem", tt.name, ps)
			}
			continue
		}
		if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Severity != tt.sev {
			t.Errorf("%s: got %v, want one %v at %s", tt.name, ps, tt.sev, tt.path)
		}
	}
}
