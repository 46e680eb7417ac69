package pod

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

func execPod() *manifests.Pod {
	p := &manifests.Pod{}
	p.Namespace, p.Name = "default", "web"
	p.Spec.InitContainers = []manifests.Container{{Name: "setup"}}
	p.Spec.Containers = []manifests.Container{{Name: "app"}, {Name: "side"}}
	return p
}

func TestPickContainer(t *testing.T) {
	one := execPod()
	one.Spec.Containers = one.Spec.Containers[:1]
	for _, tc := range []struct {
		name, ctr string
		pod       *manifests.Pod
		want      string
		notFound  bool
		errText   string
	}{
		{"named", "side", execPod(), "side", false, ""},
		{"init container", "setup", execPod(), "setup", false, ""},
		{"only container by default", "", one, "app", false, ""},
		{"several need a name", "", execPod(), "", false, "has 2 containers (app, side)"},
		{"unknown", "nope", execPod(), "", true, "container nope not found in pod default/web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pickContainer(tc.pod, tc.ctr)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) || errors.Is(err, ErrNotFound) != tc.notFound {
					t.Fatalf("error %v, want %q (not found %v)", err, tc.errText, tc.notFound)
				}
				return
			}
			if err != nil || c.Name != tc.want {
				t.Fatalf("got %v, %v; want %s", c, err, tc.want)
			}
		})
	}
}

func TestRunningPID(t *testing.T) {
	st := infra.PodStatus{
		InitContainers: []infra.ContainerStatus{{Name: "setup", State: kube.ContainerState{
			Terminated: &kube.StateTerminated{ExitCode: 0, Reason: kube.ReasonCompleted}}}},
		Containers: []infra.ContainerStatus{
			{Name: "app", PID: 12, State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: time.Now()}}},
			{Name: "side", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCrashLoopBackOff}}},
		},
	}
	for _, tc := range []struct {
		ctr     string
		want    int
		errText string
	}{
		{"app", 12, ""},
		{"setup", 0, "is terminated (Completed, exit code 0)"},
		{"side", 0, "is waiting (CrashLoopBackOff)"},
		{"late", 0, "has not been started"},
	} {
		pid, err := runningPID(st, "default/web", tc.ctr)
		if tc.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errText) || !errors.Is(err, ErrNotRunning) {
				t.Errorf("%s: error %v, want %q wrapping ErrNotRunning", tc.ctr, err, tc.errText)
			}
			continue
		}
		if err != nil || pid != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.ctr, pid, err, tc.want)
		}
	}
}

func TestMatchNSpid(t *testing.T) {
	procs := map[int][]int{
		5000: {5000, 1},  // container init, own pid namespace
		5010: {5010, 7},  // a process exec'd into it
		6000: {6000, 12}, // a container in a shared pod pid namespace
	}
	for _, tc := range []struct {
		name       string
		level, pid int
		want       int
		ok         bool
	}{
		{"host level (own pid namespace per container)", 0, 5000, 5000, true},
		{"pod level (shareProcessNamespace)", 1, 12, 6000, true},
		{"absent", 1, 99, 0, false},
		{"level too deep", 2, 1, 0, false},
	} {
		got, ok := matchNSpid(procs, tc.level, tc.pid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseNSpid(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         []int
	}{
		{"nested", "Name:\tdemo\nNSpid:\t4242\t1\nPPid:\t1\n", []int{4242, 1}},
		{"host", "NSpid:\t17\n", []int{17}},
		{"missing", "Name:\tdemo\n", nil},
		{"garbage", "NSpid:\tx\n", nil},
	} {
		got, err := parseNSpid(tc.status)
		if !slices.Equal(got, tc.want) || (err == nil) != (tc.want != nil) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestPlacementProcs(t *testing.T) {
	if got := placementProcs(cgroups.Placement{Dir: "/sys/fs/cgroup/berth/p/c"}); !slices.Equal(got, []string{"/sys/fs/cgroup/berth/p/c/cgroup.procs"}) {
		t.Errorf("v2: %q", got)
	}
	v1 := []string{"/sys/fs/cgroup/cpu/berth/p/c/cgroup.procs", "/sys/fs/cgroup/memory/berth/p/c/cgroup.procs"}
	if got := placementProcs(cgroups.Placement{Procs: v1}); !slices.Equal(got, v1) {
		t.Errorf("v1: %q", got)
	}
}

func TestExecTargetFromConfig(t *testing.T) {
	proc := container.Process{
		User: "1000", AdditionalGIDs: []uint32{3}, RunAsNonRoot: true,
		Capabilities: []string{"CAP_CHOWN"}, NoNewPrivileges: true,
		Env: []string{"A=1"}, Cwd: "/w", OOMScoreAdj: -997,
	}
	cfg := container.Config{ID: "default/web/app", Args: []string{"ignored"}, Process: proc}
	got := execTarget("default/web", "app", 5000, 99, []string{"/x/cgroup.procs"}, cfg)
	want := ExecTarget{
		Pod: "default/web", Container: "app", PID: 5000, StartTime: 99, CgroupProcs: []string{"/x/cgroup.procs"},
		Process: proc,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
