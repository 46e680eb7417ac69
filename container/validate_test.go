package container

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	good := func() Config {
		return Config{
			LowerDirs: []string{"/l"}, UpperDir: "/u", WorkDir: "/w", RootfsDir: "/r",
			Args:    []string{"sh"},
			Process: Process{Env: []string{"A=b", "EMPTY="}, Cwd: "/", Capabilities: DefaultCapabilities()},
			Mounts:  []Mount{{Source: "/v", Target: "/data", Type: "bind", SubPath: "a/b"}},
		}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		errText string
	}{
		{name: "good", mutate: func(*Config) {}},
		{name: "no args", mutate: func(c *Config) { c.Args = nil }, errText: "args: empty command"},
		{name: "relative rootfs", mutate: func(c *Config) { c.RootfsDir = "r" }, errText: "rootfsDir"},
		{name: "upper without work", mutate: func(c *Config) { c.WorkDir = "" }, errText: "upperDir and workDir"},
		{name: "env without =", mutate: func(c *Config) { c.Env = []string{"A"} }, errText: "env[0]"},
		{name: "env name empty", mutate: func(c *Config) { c.Env = []string{"=x"} }, errText: "env[0]"},
		{name: "env with NUL", mutate: func(c *Config) { c.Env = []string{"A=b\x00c"} }, errText: "env[0]"},
		{name: "subPath escapes", mutate: func(c *Config) { c.Mounts[0].SubPath = "a/../../etc" }, errText: "mounts[0].subPath"},
		{name: "subPath absolute", mutate: func(c *Config) { c.Mounts[0].SubPath = "/etc" }, errText: "mounts[0].subPath"},
		{name: "relative target", mutate: func(c *Config) { c.Mounts[0].Target = "data" }, errText: "mounts[0].target"},
		{name: "gid too big", mutate: func(c *Config) { c.AdditionalGIDs = []uint32{1 << 31} }, errText: "additionalGids[0]"},
		{name: "unknown mount type", mutate: func(c *Config) { c.Mounts[0].Type = "nfs" }, errText: `mounts[0].type "nfs"`},
		{name: "subPath on tmpfs", mutate: func(c *Config) { c.Mounts[0].Type = "tmpfs" }, errText: "mounts[0].subPath: only for bind"},
		{name: "rshared unprivileged", mutate: func(c *Config) { c.Mounts[0].Options = []string{"rbind", "rshared"} }, errText: "mounts[0]: rshared"},
		{name: "rshared privileged", mutate: func(c *Config) { c.Mounts[0].Options = []string{"rbind", "rshared"}; c.Privileged = true }},
		{name: "bad capability", mutate: func(c *Config) { c.Capabilities = []string{"CAP_FLY"} }, errText: "unknown capability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.mutate(&cfg)
			err := validate(cfg)
			if tt.errText == "" {
				if err != nil {
					t.Fatalf("validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("validate = %v, want %q", err, tt.errText)
			}
		})
	}
}
