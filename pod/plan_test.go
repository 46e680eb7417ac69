package pod

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifests"
)

func TestArgs(t *testing.T) {
	ep, cmd := []string{"/entry"}, []string{"--default"}
	vars := map[string]string{"PORT": "8080"}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/entry", "--default"}},
		{"args replace cmd", nil, []string{"--port", "$(PORT)"}, []string{"/entry", "--port", "8080"}},
		{"command replaces both", []string{"/bin/x"}, nil, []string{"/bin/x"}},
		{"command and args", []string{"/bin/x"}, []string{"a", "$$(PORT)"}, []string{"/bin/x", "a", "$(PORT)"}},
	} {
		c := &manifests.Container{Command: tc.command, Args: tc.args}
		if got := Args(c, ep, cmd, vars); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUser(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name      string
		s         security
		imageUser string
		want      string
	}{
		{"root by default", security{}, "", "0"},
		{"image user", security{}, "app", "app"},
		{"image user and group", security{}, "app:staff", "app:staff"},
		{"runAsUser overrides image user and its group", security{RunAsUser: i(1000)}, "app:staff", "1000"},
		{"runAsGroup keeps the image user", security{RunAsGroup: i(50)}, "app", "app:50"},
		{"both", security{RunAsUser: i(1000), RunAsGroup: i(50)}, "", "1000:50"},
	} {
		if got := user(tc.s, tc.imageUser); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEffectiveSecurityContainerOverridesPod(t *testing.T) {
	u1, u2, no := int64(1), int64(2), false
	s := effectiveSecurity(&manifests.PodSecurityContext{RunAsUser: &u1, RunAsGroup: &u1},
		&manifests.SecurityContext{RunAsUser: &u2, AllowPrivilegeEscalation: &no})
	if *s.RunAsUser != 2 || *s.RunAsGroup != 1 || *s.AllowPrivilegeEscalation {
		t.Errorf("effective %+v", s)
	}
}

func TestContainerConfig(t *testing.T) {
	yes, no := true, false
	pod := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "default"}}
	l := NewLayout("/s", "/r", "/l", "default", "web", "uid")
	img := images.Image{Layers: []string{"/layers/base", "/layers/top"}, Config: images.ImageConfig{
		Entrypoint: []string{"/bin/demo"}, Cmd: []string{"serve"}, WorkingDir: "/srv", User: "app",
	}}
	c := &manifests.Container{Name: "main", TerminationMessagePath: "/dev/termination-log", SecurityContext: &manifests.SecurityContext{
		AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
		Capabilities: &manifests.Capabilities{Drop: []string{"ALL"}, Add: []string{"NET_BIND_SERVICE"}},
	}}
	cfg, err := ContainerConfig(ContainerInput{Pod: pod, Container: c, Image: img, Layout: l,
		Mounts: []container.Mount{{Source: "/v", Target: "/data", Type: "bind"}}, OOMScoreAdj: 875})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OOMScoreAdj != 875 {
		t.Errorf("oom_score_adj %d, want the input's 875", cfg.OOMScoreAdj)
	}
	if !reflect.DeepEqual(cfg.LowerDirs, []string{"/layers/top", "/layers/base"}) {
		t.Errorf("lower dirs %q: overlayfs wants the top layer first", cfg.LowerDirs)
	}
	if !reflect.DeepEqual(cfg.Args, []string{"/bin/demo", "serve"}) || cfg.Cwd != "/srv" || cfg.User != "app" {
		t.Errorf("process: args %q cwd %q user %q", cfg.Args, cfg.Cwd, cfg.User)
	}
	if !cfg.NoNewPrivileges || !cfg.ReadOnlyRootfs || cfg.Privileged {
		t.Errorf("security: nnp %v ro %v privileged %v", cfg.NoNewPrivileges, cfg.ReadOnlyRootfs, cfg.Privileged)
	}
	if !reflect.DeepEqual(cfg.Capabilities, []string{"CAP_NET_BIND_SERVICE"}) {
		t.Errorf("capabilities %q", cfg.Capabilities)
	}
	if len(cfg.MaskedPaths) == 0 || len(cfg.ReadonlyPaths) == 0 {
		t.Errorf("unprivileged container without masked/read-only paths")
	}
	var targets []string
	for _, m := range cfg.Mounts {
		targets = append(targets, m.Target)
	}
	if !reflect.DeepEqual(targets, []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/data", "/dev/termination-log"}) {
		t.Errorf("mount targets %q", targets)
	}
	if m := cfg.Mounts[len(cfg.Mounts)-1]; m.Source != l.TerminationMessageFile("main") || !m.File || m.Type != "bind" {
		t.Errorf("termination message mount %+v: want a file bind of %s", m, l.TerminationMessageFile("main"))
	}
	if !strings.HasPrefix(cfg.UpperDir, "/s/pods/default_web/containers/main/") {
		t.Errorf("upper dir %s outside the pod's state", cfg.UpperDir)
	}
}

func TestContainerConfigWorkingDir(t *testing.T) {
	pod := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"}}
	l := NewLayout("/s", "/r", "/l", "default", "p", "uid")
	for _, tc := range []struct{ image, container, want string }{
		{"", "", "/"},
		{"/srv", "", "/srv"},
		{"/srv", "/work", "/work"},
	} {
		c := &manifests.Container{Name: "main", Command: []string{"/x"}, WorkingDir: tc.container}
		img := images.Image{Config: images.ImageConfig{WorkingDir: tc.image}}
		cfg, err := ContainerConfig(ContainerInput{Pod: pod, Container: c, Image: img, Layout: l})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Cwd != tc.want {
			t.Errorf("image %q, workingDir %q: cwd %q, want %q", tc.image, tc.container, cfg.Cwd, tc.want)
		}
	}
}

func TestContainerConfigPrivilegedKeepsEverything(t *testing.T) {
	yes := true
	pod := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"}}
	c := &manifests.Container{Name: "main", Command: []string{"/x"}, SecurityContext: &manifests.SecurityContext{Privileged: &yes}}
	cfg, err := ContainerConfig(ContainerInput{Pod: pod, Container: c, Layout: NewLayout("/s", "/r", "/l", "default", "p", "u")})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Privileged || len(cfg.MaskedPaths) != 0 || !slices.Contains(cfg.Capabilities, "CAP_SYS_ADMIN") {
		t.Errorf("privileged config: %+v", cfg)
	}
}

func TestContainerConfigWithoutCommand(t *testing.T) {
	pod := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"}}
	_, err := ContainerConfig(ContainerInput{Pod: pod, Container: &manifests.Container{Name: "c"}})
	if err == nil || !strings.Contains(err.Error(), "no command") {
		t.Fatalf("err = %v", err)
	}
}

func TestSupplementalGroups(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		sc   *manifests.PodSecurityContext
		want []uint32
	}{
		{name: "no security context"},
		{name: "supplementalGroups only", sc: &manifests.PodSecurityContext{SupplementalGroups: []int64{3000, 4000}}, want: []uint32{3000, 4000}},
		{name: "fsGroup after supplementalGroups", sc: &manifests.PodSecurityContext{SupplementalGroups: []int64{3000}, FSGroup: i64(2000)}, want: []uint32{3000, 2000}},
		{name: "fsGroup only", sc: &manifests.PodSecurityContext{FSGroup: i64(2000)}, want: []uint32{2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := supplementalGroups(tt.sc); !slices.Equal(got, tt.want) {
				t.Errorf("supplementalGroups = %v, want %v", got, tt.want)
			}
		})
	}
}
