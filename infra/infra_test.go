package infra

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/kube"
)

func TestShouldRestart(t *testing.T) {
	const sigkill = 128 + 9
	tests := []struct {
		policy string
		code   int
		isInit bool
		want   bool
	}{
		{RestartAlways, 0, false, true},
		{RestartAlways, 1, false, true},
		{RestartAlways, sigkill, false, true},
		{RestartOnFailure, 0, false, false},
		{RestartOnFailure, 1, false, true},
		{RestartOnFailure, sigkill, false, true},
		{RestartNever, 0, false, false},
		{RestartNever, 1, false, false},
		{RestartNever, sigkill, false, false},
		// Init containers must complete: success is never re-run.
		{RestartAlways, 0, true, false},
		{RestartAlways, 1, true, true},
		{RestartAlways, sigkill, true, true},
		{RestartOnFailure, 0, true, false},
		{RestartOnFailure, 1, true, true},
		{RestartNever, 1, true, false},
		{RestartNever, sigkill, true, false},
		{"", 1, false, false},
	}
	for _, tt := range tests {
		if got := ShouldRestart(tt.policy, tt.code, tt.isInit); got != tt.want {
			t.Errorf("ShouldRestart(%q, %d, init=%v) = %v, want %v", tt.policy, tt.code, tt.isInit, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	cfg := DefaultBackoff
	tests := []struct {
		name         string
		prev, ranFor time.Duration
		want         time.Duration
	}{
		{"first restart", 0, time.Second, 10 * time.Second},
		{"doubles", 10 * time.Second, time.Second, 20 * time.Second},
		{"doubles again", 80 * time.Second, time.Second, 160 * time.Second},
		{"capped", 160 * time.Second, time.Second, 5 * time.Minute},
		{"stays capped", 5 * time.Minute, time.Second, 5 * time.Minute},
		{"reset after a long run", 5 * time.Minute, 10 * time.Minute, 10 * time.Second},
		{"not reset just before", 40 * time.Second, 10*time.Minute - 1, 80 * time.Second},
	}
	for _, tt := range tests {
		if got := Backoff(tt.prev, tt.ranFor, cfg); got != tt.want {
			t.Errorf("%s: Backoff(%s, %s) = %s, want %s", tt.name, tt.prev, tt.ranFor, got, tt.want)
		}
	}
}

func TestParseOOMKill(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		wantErr  bool
	}{
		{"v2 memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n", 2, false},
		{"v1 memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n", 5, false},
		{"v1 old kernel without counter", "oom_kill_disable 0\nunder_oom 0\n", 0, true},
		{"garbage value", "oom_kill x\n", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		got, err := parseOOMKill([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseOOMKill = %d, %v; want %d, err=%v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	in := Request{Version: ProtocolVersion, Op: OpStop, GraceMillis: 1500}
	if err := writeFrame(&buf, in); err != nil {
		t.Fatal(err)
	}
	if n := buf.Len(); n < 4 || int(buf.Bytes()[3]) != n-4 {
		t.Fatalf("frame header does not give the payload length: % x", buf.Bytes()[:4])
	}
	var out Request
	if err := readFrame(&buf, &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: got %+v, %v; want %+v", out, err, in)
	}

	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"oversize rejected before reading", []byte{0x01, 0x00, 0x00, 0x01}, ErrFrameTooLarge},
		{"short header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"short payload", []byte{0, 0, 0, 5, '{'}, io.ErrUnexpectedEOF},
		{"empty stream", nil, io.EOF},
	}
	for _, tt := range tests {
		var req Request
		if err := readFrame(bytes.NewReader(tt.in), &req); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	var junk Request
	if err := readFrame(bytes.NewReader([]byte{0, 0, 0, 2, 'n', 'o'}), &junk); err == nil {
		t.Error("bad JSON accepted")
	}
}

func validConfig() PodConfig {
	return PodConfig{
		Key: "default/web", UID: "u1", Socket: "/run/berth/pods/u1/infra.sock", LogDir: "/var/log/berth/pods/default_web_u1",
		RestartPolicy: RestartAlways, Backoff: DefaultBackoff,
		Containers: []ContainerConfig{{Name: "app"}},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*PodConfig)
		ok     bool
	}{
		{"valid", func(*PodConfig) {}, true},
		{"relative socket", func(c *PodConfig) { c.Socket = "infra.sock" }, false},
		{"unknown policy", func(c *PodConfig) { c.RestartPolicy = "Sometimes" }, false},
		{"zero backoff", func(c *PodConfig) { c.Backoff = BackoffConfig{} }, false},
		{"no containers at launch: they come with Start", func(c *PodConfig) { c.Containers = nil }, true},
		{"name with slash", func(c *PodConfig) { c.Containers[0].Name = "../x" }, false},
		{"dot-dot name", func(c *PodConfig) { c.Containers[0].Name = ".." }, false},
		{"duplicate across init", func(c *PodConfig) { c.InitContainers = []ContainerConfig{{Name: "app"}} }, false},
		{"bad oom format", func(c *PodConfig) { c.Containers[0].OOMFormat = "v3" }, false},
		{"sidecar init container", func(c *PodConfig) {
			c.InitContainers = []ContainerConfig{{Name: "s", Sidecar: true, WaitStarted: true}}
		}, true},
		{"sidecar among the containers", func(c *PodConfig) { c.Containers[0].Sidecar = true }, false},
		{"waitStarted without sidecar", func(c *PodConfig) { c.InitContainers = []ContainerConfig{{Name: "s", WaitStarted: true}} }, false},
		{"negative deadline", func(c *PodConfig) { c.ActiveDeadline = -time.Second }, false},
		{"sysctl", func(c *PodConfig) {
			c.Sysctls = []Sysctl{{Name: "net.ipv4.conf.eth0/100.forwarding", Path: "net/ipv4/conf/eth0.100/forwarding", Value: "1", Namespace: "net"}}
		}, true},
		{"net sysctl with hostNetwork", func(c *PodConfig) {
			c.HostNetwork = true
			c.Sysctls = []Sysctl{{Name: "net.core.somaxconn", Path: "net/core/somaxconn", Value: "1", Namespace: "net"}}
		}, false},
		{"uts sysctl with hostNetwork", func(c *PodConfig) {
			c.HostNetwork = true
			c.Sysctls = []Sysctl{{Name: "kernel.domainname", Path: "kernel/domainname", Value: "x", Namespace: "uts"}}
		}, false},
		{"ipc sysctl with hostIPC", func(c *PodConfig) {
			c.HostIPC = true
			c.Sysctls = []Sysctl{{Name: "kernel.shmmax", Path: "kernel/shmmax", Value: "1", Namespace: "ipc"}}
		}, false},
		{"ipc sysctl with hostNetwork", func(c *PodConfig) {
			c.HostNetwork = true
			c.Sysctls = []Sysctl{{Name: "kernel.shmmax", Path: "kernel/shmmax", Value: "1", Namespace: "ipc"}}
		}, true},
		{"v1 cgroups", func(c *PodConfig) { c.CgroupProcs = []string{"/sys/fs/cgroup/pids/berth/p/_infra/cgroup.procs"} }, true},
		{"relative cgroup", func(c *PodConfig) { c.CgroupProcs = []string{"pids/berth/cgroup.procs"} }, false},
		{"not cgroup.procs", func(c *PodConfig) { c.CgroupProcs = []string{"/sys/fs/cgroup/pids/berth/tasks"} }, false},
		{"dotdot cgroup", func(c *PodConfig) { c.CgroupProcs = []string{"/sys/fs/cgroup/../../etc/cgroup.procs"} }, false},
		{"sysctl of no namespace", func(c *PodConfig) { c.Sysctls = []Sysctl{{Name: "vm.swappiness", Path: "vm/swappiness", Value: "1"}} }, false},
		{"sysctl path with ..", func(c *PodConfig) { c.Sysctls = []Sysctl{{Name: "x", Path: "net/../../etc/passwd", Value: "1"}} }, false},
		{"absolute sysctl path", func(c *PodConfig) { c.Sysctls = []Sysctl{{Name: "x", Path: "/etc/passwd", Value: "1"}} }, false},
		{"empty sysctl element", func(c *PodConfig) { c.Sysctls = []Sysctl{{Name: "x", Path: "net//core", Value: "1"}} }, false},
		{"sysctl value with newline", func(c *PodConfig) { c.Sysctls = []Sysctl{{Name: "x", Path: "net/core/somaxconn", Value: "1\n2"}} }, false},
	}
	for _, tt := range tests {
		c := validConfig()
		tt.mutate(&c)
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error does not wrap ErrInvalidConfig: %v", tt.name, err)
		}
	}
}

// fakeProcs records what the supervisor asks of the OS; timers fire only
// when the test says so.
type fakeProcs struct {
	nextPID  int
	startErr map[string]error
	signals  []string
	// signalled lists each signal with its pid: "terminated 101".
	signalled []string
	oom       uint64
	timers    []*fakeTimer
	hold      bool
	held      []func()
	// messages are the termination messages by container name.
	messages map[string]string
}

type fakeTimer struct {
	d         time.Duration
	f         func()
	cancelled bool
}

// start answers at once, unless hold is set: then the answer waits for
// release, as a slow init stage makes it wait.
func (p *fakeProcs) start(runs []runSpec, done func([]runStart)) {
	out := p.results(runs)
	if p.hold {
		p.held = append(p.held, func() { done(out) })
		return
	}
	done(out)
}

// release delivers the held start results.
func (p *fakeProcs) release() {
	held := p.held
	p.held = nil
	for _, f := range held {
		f()
	}
}

func (p *fakeProcs) results(runs []runSpec) []runStart {
	var out []runStart
	for _, r := range runs {
		if err := p.startErr[r.cfg.Name]; err != nil {
			out = append(out, runStart{err: err})
			continue
		}
		p.nextPID++
		out = append(out, runStart{pid: p.nextPID, logPath: "/logs/" + r.cfg.Name})
	}
	return out
}

func (p *fakeProcs) signal(pid int, sig syscall.Signal) error {
	p.signals = append(p.signals, sig.String())
	p.signalled = append(p.signalled, fmt.Sprintf("%s %d", sig, pid))
	return nil
}

func (p *fakeProcs) oomKills(c *ContainerConfig) (uint64, bool) { return p.oom, c.OOMEventsFile != "" }

func (p *fakeProcs) terminationMessage(c *ContainerConfig, _ string, _ bool) string {
	return p.messages[c.Name]
}

func (p *fakeProcs) afterFunc(d time.Duration, f func()) func() {
	ft := &fakeTimer{d: d, f: f}
	p.timers = append(p.timers, ft)
	return func() { ft.cancelled = true }
}

// fire runs the pending timers.
func (p *fakeProcs) fire() {
	timers := p.timers
	p.timers = nil
	for _, ft := range timers {
		if !ft.cancelled {
			ft.f()
		}
	}
}

func newTestSupervisor(cfg PodConfig) (*supervisor, *fakeProcs) {
	p := &fakeProcs{nextPID: 100, startErr: map[string]error{}}
	cfg.Backoff = BackoffConfig{Initial: time.Second, Max: 4 * time.Second, ResetAfter: time.Hour}
	s := newSupervisor(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), p, time.Now, PodStatus{PID: 7})
	return s, p
}

func exitStatus(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }

func signalStatus(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }

func TestSupervisorRestartWithBackoff(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartOnFailure
	s, p := newTestSupervisor(cfg)
	if err := s.Start(nil, nil, func() {}); err != nil {
		t.Fatal(err)
	}
	st := s.Status().Containers[0]
	if st.State.Running == nil || st.PID != 101 {
		t.Fatalf("after Start: %+v", st)
	}
	for i, wantDelay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		s.Exited(s.Status().Containers[0].PID, exitStatus(1))
		st = s.Status().Containers[0]
		if st.State.Waiting == nil || st.State.Waiting.Reason != kube.ReasonCrashLoopBackOff {
			t.Fatalf("exit %d: state %+v, want CrashLoopBackOff", i, st.State)
		}
		if len(p.timers) != 1 || p.timers[0].d != wantDelay {
			t.Fatalf("exit %d: timers %+v, want one of %s", i, p.timers, wantDelay)
		}
		p.fire()
		st = s.Status().Containers[0]
		if st.State.Running == nil || st.RestartCount != i+1 || st.LastState.Terminated.ExitCode != 1 {
			t.Fatalf("restart %d: %+v", i, st)
		}
	}
	// Exit 0 under OnFailure is final.
	s.Exited(st.PID, exitStatus(0))
	st = s.Status().Containers[0]
	if st.State.Terminated == nil || st.State.Terminated.Reason != kube.ReasonCompleted || len(p.timers) != 0 {
		t.Fatalf("after exit 0: %+v, timers %d", st, len(p.timers))
	}
}

// TestSupervisorCarriedRuns: a container whose runs a host restart ended
// starts as the restart after the last one, and shows how that one ended.
func TestSupervisorCarriedRuns(t *testing.T) {
	cfg := validConfig()
	last := &kube.StateTerminated{ExitCode: kube.ExitCodeUnknown, Reason: kube.ReasonUnknown}
	cfg.Containers[0].RestartCount, cfg.Containers[0].LastState = 3, last
	s, _ := newTestSupervisor(cfg)
	if err := s.Start(nil, nil, func() {}); err != nil {
		t.Fatal(err)
	}
	st := s.Status().Containers[0]
	if st.State.Running == nil || st.RestartCount != 4 || st.LastState.Terminated == nil || *st.LastState.Terminated != *last {
		t.Fatalf("after Start: %+v, want running, restart 4, last state %+v", st, last)
	}
	s.Exited(st.PID, exitStatus(1))
	if st = s.Status().Containers[0]; st.RestartCount != 4 || st.LastState.Terminated == nil || st.LastState.Terminated.ExitCode != 1 {
		t.Fatalf("after its exit: %+v", st)
	}
}

func TestSupervisorInitContainers(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartNever
	cfg.InitContainers = []ContainerConfig{{Name: "init1"}, {Name: "init2"}}
	s, _ := newTestSupervisor(cfg)
	s.Start(nil, nil, func() {})
	st := s.Status()
	if st.InitContainers[0].State.Running == nil || st.InitContainers[1].State.Waiting == nil || st.Containers[0].State.Waiting == nil {
		t.Fatalf("only init1 should run: %+v", st)
	}
	s.Exited(st.InitContainers[0].PID, exitStatus(0))
	st = s.Status()
	if st.InitContainers[1].State.Running == nil || st.Containers[0].State.Waiting == nil {
		t.Fatalf("init2 should run next: %+v", st)
	}
	// init2 fails under Never: the pod stops there.
	s.Exited(st.InitContainers[1].PID, exitStatus(3))
	st = s.Status()
	if term := st.InitContainers[1].State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != kube.ReasonError {
		t.Fatalf("init2 should be terminated with 3: %+v", st.InitContainers[1])
	}
	if st.Containers[0].State.Waiting == nil {
		t.Fatalf("app must not start after a failed init: %+v", st.Containers[0])
	}
}

func TestSupervisorStartErrorAndOOM(t *testing.T) {
	cfg := validConfig()
	cfg.Containers = []ContainerConfig{{Name: "broken"}, {Name: "hog", OOMEventsFile: "/x"}}
	s, p := newTestSupervisor(cfg)
	p.startErr["broken"] = errors.New("exec: no such file")
	s.Start(nil, nil, func() {})
	st := s.Status()
	if w := st.Containers[0].State.Waiting; w == nil || w.Reason != kube.ReasonCrashLoopBackOff {
		t.Fatalf("broken: %+v", st.Containers[0])
	}
	if term := st.Containers[0].LastState.Terminated; term.Reason != kube.ReasonStartError || !strings.Contains(term.Message, "no such file") || term.ExitCode != 128 {
		t.Fatalf("broken last state: %+v", term)
	}
	p.oom = 1
	s.Exited(st.Containers[1].PID, signalStatus(syscall.SIGKILL))
	term := s.Status().Containers[1].LastState.Terminated
	if term.Reason != kube.ReasonOOMKilled || term.ExitCode != 137 || term.Signal != 9 {
		t.Fatalf("hog: %+v", term)
	}
}

func TestSupervisorStop(t *testing.T) {
	cfg := validConfig()
	cfg.Containers = []ContainerConfig{{Name: "a"}, {Name: "b"}, {Name: "crashed"}}
	s, p := newTestSupervisor(cfg)
	s.Start(nil, nil, func() {})
	st := s.Status()
	s.Exited(st.Containers[2].PID, exitStatus(1)) // now in back-off
	var stopped int
	s.Stop(time.Minute, func(error) { stopped++ })
	if len(p.signals) != 2 || p.signals[0] != "terminated" {
		t.Fatalf("signals after Stop: %v", p.signals)
	}
	if !p.timers[0].cancelled || p.timers[1].d != time.Minute {
		t.Fatalf("restart not cancelled or no grace timer: %+v %+v", p.timers[0], p.timers[1])
	}
	s.Exited(st.Containers[0].PID, signalStatus(syscall.SIGTERM))
	p.fire() // grace elapsed
	if len(p.signals) != 3 || p.signals[2] != "killed" || stopped != 0 {
		t.Fatalf("after grace: signals %v, stopped %d", p.signals, stopped)
	}
	s.Exited(st.Containers[1].PID, signalStatus(syscall.SIGKILL))
	if stopped != 1 || s.Running() {
		t.Fatalf("stop not answered: %d", stopped)
	}
	if err := s.Start(nil, nil, func() {}); !errors.Is(err, errStopping) {
		t.Fatalf("Start after Stop = %v", err)
	}
	// A second Stop with nothing running answers at once.
	s.Stop(0, func(error) { stopped++ })
	if stopped != 2 {
		t.Fatal("second Stop not answered")
	}
}

func TestResetWritableLayer(t *testing.T) {
	dir := t.TempDir()
	upper, work := dir+"/upper", dir+"/work"
	if err := os.MkdirAll(upper+"/etc", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(upper+"/etc/changed", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := resetWritableLayer(upper, work); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(upper)
	if err != nil || len(entries) != 0 {
		t.Fatalf("upper not emptied: %v %v", entries, err)
	}
	if fi, err := os.Stat(upper); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("upper mode not kept: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(work); err != nil || !fi.IsDir() {
		t.Fatalf("work not created: %v", err)
	}
	// An empty upper dir is kept, and a link in its place is replaced.
	before, err := os.Stat(upper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(upper, work); err != nil {
		t.Fatal(err)
	}
	if err := resetWritableLayer(upper, work); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(upper); err != nil || !os.SameFile(before, after) {
		t.Errorf("empty upper dir replaced: %v", err)
	}
	if fi, err := os.Lstat(work); err != nil || !fi.IsDir() {
		t.Errorf("work left a link: %v %v", fi.Mode(), err)
	}
}

func TestSupervisorStartTakesContainers(t *testing.T) {
	cfg := validConfig()
	cfg.Containers = nil
	s, _ := newTestSupervisor(cfg)
	if err := s.Start(nil, nil, func() {}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Start without any containers: %v, want ErrInvalidConfig", err)
	}
	if err := s.Start(nil, []ContainerConfig{{Name: "a"}, {Name: "a"}}, func() {}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Start with a duplicate name: %v, want ErrInvalidConfig", err)
	}
	if err := s.Start([]ContainerConfig{{Name: "setup"}}, []ContainerConfig{{Name: "late"}}, func() {}); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if len(st.InitContainers) != 1 || st.InitContainers[0].State.Running == nil || len(st.Containers) != 1 || st.Containers[0].Name != "late" {
		t.Fatalf("containers given with Start are not the ones run: %+v", st)
	}
}

func TestSupervisorEnv(t *testing.T) {
	cfg := validConfig()
	s, _ := newTestSupervisor(cfg)
	ctrs := []ContainerConfig{{Name: "app"}}
	ctrs[0].Init.Env = []string{"GREETING=before"}
	inits := []ContainerConfig{{Name: "prep"}}
	inits[0].Init.Env = []string{"STEP=1"}
	if err := s.Start(inits, ctrs, func() {}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"app": "GREETING=before", "prep": "STEP=1"} {
		env, err := s.Env(name)
		if err != nil || len(env) != 1 || env[0] != want {
			t.Errorf("Env(%s) = %v, %v; want [%s]", name, env, err, want)
		}
	}
	if _, err := s.Env("nope"); err == nil {
		t.Error("Env of an unknown container: want an error")
	}
}

// TestSupervisorSetEnv: a new environment applies from the next run on;
// the running one keeps (and Env reports) what it started with.
func TestSupervisorSetEnv(t *testing.T) {
	cfg := validConfig()
	s, p := newTestSupervisor(cfg)
	ctrs := []ContainerConfig{{Name: "app"}}
	ctrs[0].Init.Env = []string{"GREETING=before"}
	if err := s.Start(nil, ctrs, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEnv(map[string][]string{"app": {"GREETING=after"}, "nope": nil}); err == nil {
		t.Fatal("SetEnv with an unknown container: want an error")
	}
	if env, _ := s.Env("app"); len(env) != 1 || env[0] != "GREETING=before" {
		t.Fatalf("a failed SetEnv changed the environment: %v", env)
	}
	if err := s.SetEnv(map[string][]string{"app": {"GREETING=after"}}); err != nil {
		t.Fatal(err)
	}
	if env, _ := s.Env("app"); len(env) != 1 || env[0] != "GREETING=before" {
		t.Fatalf("running container's env = %v, want the one it started with", env)
	}
	s.Exited(s.Status().Containers[0].PID, exitStatus(1))
	p.fire()
	if st := s.Status().Containers[0]; st.State.Running == nil || st.RestartCount != 1 {
		t.Fatalf("after the restart: %+v", st)
	}
	if env, _ := s.Env("app"); len(env) != 1 || env[0] != "GREETING=after" {
		t.Errorf("restarted container's env = %v, want GREETING=after", env)
	}
}

// A run that could not be created waits with CreateContainerError and is
// tried again after a back-off, even under restartPolicy Never, without
// counting as a restart; once it starts, it runs.
func TestSupervisorCreateErrorRetries(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartNever
	s, p := newTestSupervisor(cfg)
	p.startErr["app"] = fmt.Errorf("init of container app: %w", &container.InitError{Step: "resolve user 1000", Message: "/etc/passwd is not a regular file but a FIFO: fix the image"})
	s.Start(nil, nil, func() {})
	for i, wantDelay := range []time.Duration{time.Second, 2 * time.Second} {
		st := s.Status()
		c := st.Containers[0]
		if w := c.State.Waiting; w == nil || w.Reason != kube.ReasonCreateFailed || !strings.Contains(w.Message, "not a regular file") {
			t.Fatalf("attempt %d: state %+v, want waiting with CreateContainerError", i, c.State)
		}
		if c.RestartCount != 0 || c.LastState.Terminated != nil {
			t.Fatalf("attempt %d: restart count %d, last state %+v: a create error is no run", i, c.RestartCount, c.LastState)
		}
		if n := len(p.timers); n != 1 || p.timers[0].d != wantDelay {
			t.Fatalf("attempt %d: timers %+v, want one of %s", i, p.timers, wantDelay)
		}
		if ev := st.Events[len(st.Events)-1]; ev.Reason != kube.EventFailed || !strings.Contains(ev.Message, "not a regular file") {
			t.Fatalf("attempt %d: last event %+v", i, ev)
		}
		p.fire()
	}
	delete(p.startErr, "app")
	s.Stop(time.Minute, func(error) {})
	p.fire()
	if st := s.Status().Containers[0]; st.State.Running != nil {
		t.Fatalf("a retry after Stop ran the container: %+v", st)
	}

	s, p = newTestSupervisor(cfg)
	p.startErr["app"] = &container.TimeoutError{Timeout: 30 * time.Second}
	s.Start(nil, nil, func() {})
	delete(p.startErr, "app")
	p.fire()
	if st := s.Status().Containers[0]; st.State.Running == nil || st.RestartCount != 0 {
		t.Fatalf("retry after an init timeout: %+v, want running, no restart counted", st)
	}
}

// While a start is under way the supervisor keeps answering; Start's
// callback, an early exit and a Stop all wait for the start's outcome.
func TestSupervisorStartUnderWay(t *testing.T) {
	cfg := validConfig()
	cfg.Containers = []ContainerConfig{{Name: "quick"}, {Name: "slow"}}
	s, p := newTestSupervisor(cfg)
	p.hold = true
	started := 0
	if err := s.Start(nil, nil, func() { started++ }); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); started != 0 || !st.Started || st.Containers[0].State.Waiting == nil {
		t.Fatalf("before the starts finished: callback %d, status %+v", started, st)
	}
	// The container's exit is reaped before its start is recorded.
	s.Exited(101, exitStatus(3))
	p.release()
	if started != 1 {
		t.Fatalf("Start's callback ran %d times, want once", started)
	}
	st := s.Status()
	if term := st.Containers[0].LastState.Terminated; term == nil || term.ExitCode != 3 {
		t.Fatalf("the early exit of quick was lost: %+v", st.Containers[0])
	}
	if st.Containers[1].State.Running == nil {
		t.Fatalf("slow: %+v", st.Containers[1])
	}
	if s.Start(nil, nil, func() { started++ }); started != 2 {
		t.Fatal("a repeated Start was not answered at once")
	}

	// A Stop while a restart is starting answers only once it is recorded
	// and gone.
	p.fire() // quick's back-off: its restart starts, held
	var stopped int
	s.Stop(time.Minute, func(error) { stopped++ })
	s.Exited(st.Containers[1].PID, signalStatus(syscall.SIGTERM))
	if stopped != 0 {
		t.Fatal("Stop answered while a start was under way")
	}
	p.release()
	if last := p.signals[len(p.signals)-1]; last != "terminated" {
		t.Fatalf("a container started during Stop got %v, want SIGTERM", p.signals)
	}
	s.Exited(s.Status().Containers[0].PID, signalStatus(syscall.SIGTERM))
	if stopped != 1 {
		t.Fatalf("Stop answered %d times after everything exited", stopped)
	}
}

// TestSupervisorKill: a Kill (a failed liveness probe) records a Killing
// event with the caller's message, sends SIGTERM, and SIGKILL after the
// grace period only to the run it was about; the exit is then handled as
// any exit, with a restart under the policy.
func TestSupervisorKill(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartAlways
	s, p := newTestSupervisor(cfg)
	if err := s.Start(nil, []ContainerConfig{{Name: "app"}}, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill("nope", time.Second, "x"); err == nil {
		t.Error("Kill of an unknown container: want an error")
	}
	const msg = "Container app failed liveness probe, will be restarted"
	if err := s.Kill("app", time.Second, msg); err != nil {
		t.Fatal(err)
	}
	if len(p.signals) != 1 || p.signals[0] != "terminated" {
		t.Fatalf("signals after Kill: %v, want SIGTERM", p.signals)
	}
	evs := s.Status().Events
	if last := evs[len(evs)-1]; last.Reason != kube.EventKilling || last.Message != msg || last.Container != "app" {
		t.Errorf("last event = %+v, want Killing with %q", last, msg)
	}
	// The grace period ends with the run still there: SIGKILL.
	p.fire()
	if len(p.signals) != 2 || p.signals[1] != "killed" {
		t.Fatalf("signals after the grace period: %v, want SIGKILL", p.signals)
	}
	s.Exited(s.Status().Containers[0].PID, signalStatus(syscall.SIGKILL))
	st := s.Status().Containers[0]
	if st.State.Waiting == nil || st.State.Waiting.Reason != kube.ReasonCrashLoopBackOff {
		t.Fatalf("after the kill: %+v, want CrashLoopBackOff", st.State)
	}
	p.fire()
	if st := s.Status().Containers[0]; st.State.Running == nil || st.RestartCount != 1 {
		t.Fatalf("after the back-off: %+v, want running, restart count 1", st)
	}

	// A run that exits within the grace period gets no SIGKILL, and
	// neither does the run that follows it.
	if err := s.Kill("app", time.Second, msg); err != nil {
		t.Fatal(err)
	}
	s.Exited(s.Status().Containers[0].PID, signalStatus(syscall.SIGTERM))
	p.fire() // the back-off's restart and the grace timer
	p.fire()
	if n := len(p.signals); n != 3 || p.signals[2] != "terminated" {
		t.Errorf("signals: %v, want no SIGKILL after the run ended", p.signals)
	}
	if st := s.Status().Containers[0]; st.State.Running == nil || st.RestartCount != 2 {
		t.Fatalf("after the second kill: %+v", st)
	}
	// A container that does not run cannot be killed.
	s.Exited(s.Status().Containers[0].PID, exitStatus(0))
	if err := s.Kill("app", 0, msg); !errors.Is(err, errNotRunning) {
		t.Errorf("Kill of a waiting container = %v, want errNotRunning", err)
	}
}

// TestSupervisorStopSignal: a container with a stop signal gets it from
// Stop and Kill instead of SIGTERM, the others get SIGTERM, and SIGKILL
// still follows the grace period.
func TestSupervisorStopSignal(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartAlways
	s, p := newTestSupervisor(cfg)
	if err := s.Start(nil, []ContainerConfig{{Name: "usr1", StopSignal: syscall.SIGUSR1}, {Name: "plain"}}, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill("usr1", time.Second, "why"); err != nil {
		t.Fatal(err)
	}
	if len(p.signals) != 1 || p.signals[0] != syscall.SIGUSR1.String() {
		t.Fatalf("signals after Kill: %v, want SIGUSR1", p.signals)
	}
	s.Exited(s.Status().Containers[0].PID, exitStatus(0))
	p.fire() // the kill's grace timer: the run is gone
	p.fire() // the restart
	p.signals = nil
	s.Stop(time.Minute, func(error) {})
	slices.Sort(p.signals)
	want := []string{syscall.SIGTERM.String(), syscall.SIGUSR1.String()}
	slices.Sort(want)
	if !slices.Equal(p.signals, want) {
		t.Fatalf("signals after Stop: %v, want %v", p.signals, want)
	}
	p.fire()
	if n := len(p.signals); n != 4 || p.signals[2] != "killed" || p.signals[3] != "killed" {
		t.Fatalf("after the grace period: %v, want SIGKILL to both", p.signals)
	}
}

func TestValidateStopSignal(t *testing.T) {
	for sig, ok := range map[syscall.Signal]bool{0: true, syscall.SIGINT: true, 64: true, 65: false, -1: false} {
		cfg := validConfig()
		cfg.Containers = []ContainerConfig{{Name: "a", StopSignal: sig}}
		if err := cfg.Validate(); (err == nil) != ok {
			t.Errorf("stopSignal %d: Validate = %v, want ok %v", sig, err, ok)
		}
	}
}

// TestSupervisorHoldRestarts: after HoldRestarts a pending restart is
// cancelled and a container that exits stays exited, whatever the policy;
// nothing is signalled, and a Stop still answers once nothing runs.
func TestSupervisorHoldRestarts(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartAlways
	s, p := newTestSupervisor(cfg)
	if err := s.Start(nil, []ContainerConfig{{Name: "a"}, {Name: "b"}}, func() {}); err != nil {
		t.Fatal(err)
	}
	s.Exited(s.Status().Containers[0].PID, exitStatus(1)) // a: in back-off
	s.HoldRestarts()
	if len(p.signals) != 0 || !p.timers[0].cancelled {
		t.Fatalf("HoldRestarts signalled %v or left the restart (%+v)", p.signals, p.timers[0])
	}
	s.Exited(s.Status().Containers[1].PID, exitStatus(0))
	st := s.Status().Containers
	if st[1].State.Terminated == nil || len(p.timers) != 1 {
		t.Fatalf("b after its exit: %+v, timers %d; want terminated, no restart", st[1].State, len(p.timers))
	}
	stopped := false
	s.Stop(time.Minute, func(error) { stopped = true })
	if !stopped {
		t.Error("Stop of a pod with nothing running did not answer")
	}
}
