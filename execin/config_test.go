package execin

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/container"
)

func TestNewConfig(t *testing.T) {
	target := Target{
		Pod: "default/web", Container: "app", PID: 42, StartTime: 7,
		CgroupProcs: []string{"/sys/fs/cgroup/berth/default_web/app/cgroup.procs"},
		Process: container.Process{
			User: "1000:1000", AdditionalGIDs: []uint32{5}, RunAsNonRoot: true,
			Capabilities: []string{"CAP_KILL"}, NoNewPrivileges: true,
			Env: []string{"PATH=/bin", "TERM=dumb", "A=1"}, Cwd: "/srv", OOMScoreAdj: 500,
		},
	}
	for _, tc := range []struct {
		name       string
		tty        bool
		callerTerm string
		wantEnv    []string
	}{
		{"no tty keeps the container's TERM", false, "screen", []string{"PATH=/bin", "TERM=dumb", "A=1"}},
		{"tty takes the caller's TERM", true, "screen", []string{"PATH=/bin", "A=1", "TERM=screen"}},
		{"tty without caller TERM", true, "", []string{"PATH=/bin", "A=1", "TERM=xterm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig(target, []string{"sh", "-c", "true"}, tc.tty, tc.callerTerm)
			if !slices.Equal(c.Env, tc.wantEnv) {
				t.Errorf("env %q, want %q", c.Env, tc.wantEnv)
			}
			if c.Target != "default/web/app" || c.PID != 42 || c.StartTime != 7 || c.TTY != tc.tty ||
				c.User != "1000:1000" || !c.RunAsNonRoot || !c.NoNewPrivileges || c.Cwd != "/srv" ||
				!slices.Equal(c.Args, []string{"sh", "-c", "true"}) || !slices.Equal(c.Capabilities, []string{"CAP_KILL"}) ||
				!slices.Equal(c.AdditionalGIDs, []uint32{5}) || len(c.CgroupProcs) != 1 || c.OOMScoreAdj != 500 {
				t.Errorf("config %+v does not carry the target", c)
			}
			if c.Validate() != nil {
				t.Errorf("valid config refused: %v", c.Validate())
			}
		})
	}
	if target.Env[1] != "TERM=dumb" {
		t.Errorf("NewConfig changed the target's env: %q", target.Env)
	}
}

func TestValidate(t *testing.T) {
	good := Config{
		PID: 1, StartTime: 1, CgroupProcs: []string{"/sys/fs/cgroup/x/cgroup.procs"},
		Args: []string{"ls"}, Process: container.Process{Env: []string{"A=b"}, Cwd: "/"},
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"good", func(*Config) {}, true},
		{"empty cwd is /", func(c *Config) { c.Cwd = "" }, true},
		{"no pid", func(c *Config) { c.PID = 0 }, false},
		{"no start time", func(c *Config) { c.StartTime = 0 }, false},
		{"no cgroup", func(c *Config) { c.CgroupProcs = nil }, false},
		{"relative cgroup", func(c *Config) { c.CgroupProcs = []string{"x/cgroup.procs"} }, false},
		{"not cgroup.procs", func(c *Config) { c.CgroupProcs = []string{"/etc/passwd"} }, false},
		{"dotdot cgroup", func(c *Config) { c.CgroupProcs = []string{"/sys/fs/cgroup/../../etc/cgroup.procs"} }, false},
		{"no command", func(c *Config) { c.Args = nil }, false},
		{"empty command", func(c *Config) { c.Args = []string{""} }, false},
		{"helper takes no command", func(c *Config) { c.Serve, c.Args = true, nil }, true},
		{"helper with a command", func(c *Config) { c.Serve = true }, false},
		{"helper with a terminal", func(c *Config) { c.Serve, c.Args, c.TTY = true, nil, true }, false},
		{"relative cwd", func(c *Config) { c.Cwd = "tmp" }, false},
		{"env without =", func(c *Config) { c.Env = []string{"A"} }, false},
		{"env without name", func(c *Config) { c.Env = []string{"=x"} }, false},
		{"env with NUL", func(c *Config) { c.Env = []string{"A=x\x00y"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name             string
		exited           bool
		code             int
		signaled         bool
		signal, wantCode int
	}{
		{"success", true, 0, false, 0, 0},
		{"exit 7", true, 7, false, 0, 7},
		{"exit 255", true, 255, false, 0, 255},
		{"SIGKILL", false, -1, true, 9, 137},
		{"SIGTERM", false, -1, true, 15, 143},
		{"neither", false, -1, false, 0, ExitCannotRun},
	} {
		if got := ExitCode(tc.exited, tc.code, tc.signaled, tc.signal); got != tc.wantCode {
			t.Errorf("%s: ExitCode = %d, want %d", tc.name, got, tc.wantCode)
		}
	}
}

func TestSetupErrorExitCode(t *testing.T) {
	if c := (&SetupError{Step: "find program", NotFound: true}).ExitCode(); c != ExitNotFound {
		t.Errorf("not found: %d", c)
	}
	if c := (&SetupError{Step: "join cgroups"}).ExitCode(); c != ExitCannotRun {
		t.Errorf("setup failure: %d", c)
	}
}

// TestConfigWireFormat: exec-init reads the config's JSON with the names
// it always had, the process fields flat beside the others.
func TestConfigWireFormat(t *testing.T) {
	const v = `{"target":"default/web/app","pid":42,"startTime":7,"cgroupProcs":["/sys/fs/cgroup/x/cgroup.procs"],
"args":["sh"],"env":["A=1"],"cwd":"/srv","user":"1000","additionalGids":[5],"runAsNonRoot":true,
"capabilities":["CAP_KILL"],"noNewPrivileges":true,"seccomp":{"program":"AAAAAAAAAAA="},"oomScoreAdj":500,"tty":true}`
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("encoded config differs:\n got %s\nwant %s", out, v)
	}
}
