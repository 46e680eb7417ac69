package pod

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifests"
)

// ContainerInput is everything ContainerConfig needs about one container.
type ContainerInput struct {
	Pod       *manifests.Pod
	Container *manifests.Container
	Image     images.Image
	Env       []string
	Mounts    []container.Mount // volume mounts, from package volumes
	Layout    Layout
	// CgroupProcs are the v1 cgroup.procs files the init joins.
	CgroupProcs []string
	// OOMScoreAdj is the container's, from the pod's QoS class.
	OOMScoreAdj int
}

// ContainerConfig computes the container init's Config: pure, from the
// manifest, the image and the pod's layout.
func ContainerConfig(in ContainerInput) (container.Config, error) {
	c := in.Container
	vars := envMap(in.Env)
	args := Args(c, in.Image.Config.Entrypoint, in.Image.Config.Cmd, vars)
	if len(args) == 0 {
		return container.Config{}, fmt.Errorf("container %s: no command: the image has no entrypoint or cmd and spec.containers[].command is empty", c.Name)
	}
	dir := in.Layout.ContainerDir(c.Name)
	sc := effectiveSecurity(in.Pod.Spec.SecurityContext, c.SecurityContext)
	privileged := isTrue(sc.Privileged)
	caps := container.AllCapabilities()
	if !privileged {
		var err error
		if caps, err = container.ComputeCapabilities(sc.Add, sc.Drop); err != nil {
			return container.Config{}, fmt.Errorf("container %s: %w", c.Name, err)
		}
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = in.Image.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	cfg := container.Config{
		ID:             in.Pod.Namespace + "/" + in.Pod.Name + "/" + c.Name,
		LowerDirs:      reversed(in.Image.Layers),
		UpperDir:       filepath.Join(dir, "upper"),
		WorkDir:        filepath.Join(dir, "work"),
		RootfsDir:      filepath.Join(dir, "rootfs"),
		ReadOnlyRootfs: isTrue(sc.ReadOnlyRootFilesystem),
		Mounts:         append(append(etcMounts(in.Layout), in.Mounts...), terminationMounts(in.Layout, c)...),
		Args:           args,
		Process: container.Process{
			Env:            in.Env,
			Cwd:            cwd,
			User:           user(sc, in.Image.Config.User),
			AdditionalGIDs: supplementalGroups(in.Pod.Spec.SecurityContext),
			RunAsNonRoot:   isTrue(sc.RunAsNonRoot),
			Capabilities:   caps,
			// Kubernetes: no_new_privs only when allowPrivilegeEscalation is
			// explicitly false (and never for privileged containers).
			NoNewPrivileges: sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation && !privileged,
			OOMScoreAdj:     in.OOMScoreAdj,
		},
		Privileged:  privileged,
		CgroupProcs: in.CgroupProcs,
	}
	if !privileged {
		cfg.MaskedPaths = container.DefaultMaskedPaths()
		cfg.ReadonlyPaths = container.DefaultReadonlyPaths()
	}
	return cfg, nil
}

// Args applies Kubernetes' rules for command and args over the image's
// entrypoint and cmd, then expands $(VAR) references.
func Args(c *manifests.Container, entrypoint, cmd []string, vars map[string]string) []string {
	var args []string
	switch {
	case len(c.Command) > 0:
		args = append(append(args, c.Command...), c.Args...)
	case len(c.Args) > 0:
		args = append(append(args, entrypoint...), c.Args...)
	default:
		args = append(append(args, entrypoint...), cmd...)
	}
	for i, a := range args {
		args[i] = Expand(a, vars)
	}
	return args
}

// security is a container's effective security settings: the container's
// own values over the pod's.
type security struct {
	Privileged               *bool
	RunAsUser, RunAsGroup    *int64
	RunAsNonRoot             *bool
	ReadOnlyRootFilesystem   *bool
	AllowPrivilegeEscalation *bool
	Add, Drop                []string
}

func effectiveSecurity(p *manifests.PodSecurityContext, c *manifests.SecurityContext) security {
	var s security
	if p != nil {
		s.RunAsUser, s.RunAsGroup, s.RunAsNonRoot = p.RunAsUser, p.RunAsGroup, p.RunAsNonRoot
	}
	if c == nil {
		return s
	}
	if c.RunAsUser != nil {
		s.RunAsUser = c.RunAsUser
	}
	if c.RunAsGroup != nil {
		s.RunAsGroup = c.RunAsGroup
	}
	if c.RunAsNonRoot != nil {
		s.RunAsNonRoot = c.RunAsNonRoot
	}
	s.Privileged = c.Privileged
	s.ReadOnlyRootFilesystem = c.ReadOnlyRootFilesystem
	s.AllowPrivilegeEscalation = c.AllowPrivilegeEscalation
	if c.Capabilities != nil {
		s.Add, s.Drop = c.Capabilities.Add, c.Capabilities.Drop
	}
	return s
}

// user builds the init's "user[:group]" from runAsUser/runAsGroup over the
// image's USER.
func user(s security, imageUser string) string {
	u, g, _ := strings.Cut(imageUser, ":")
	if s.RunAsUser != nil {
		u = strconv.FormatInt(*s.RunAsUser, 10)
		g = "" // the group comes from runAsGroup or the uid's passwd entry
	}
	if s.RunAsGroup != nil {
		g = strconv.FormatInt(*s.RunAsGroup, 10)
	}
	if u == "" {
		u = "0"
	}
	if g == "" {
		return u
	}
	return u + ":" + g
}

// supplementalGroups are the groups the kubelet adds to every container's
// process: the pod's supplementalGroups, then its fsGroup.
func supplementalGroups(p *manifests.PodSecurityContext) []uint32 {
	if p == nil {
		return nil
	}
	var out []uint32
	for _, g := range p.SupplementalGroups {
		out = append(out, uint32(g))
	}
	if p.FSGroup != nil {
		out = append(out, uint32(*p.FSGroup))
	}
	return out
}

// etcMounts binds the pod's generated hosts, resolv.conf and hostname files.
func etcMounts(l Layout) []container.Mount {
	etc := l.EtcDir()
	opts := []string{"bind", "nosuid", "nodev", "noexec"}
	return []container.Mount{
		{Source: filepath.Join(etc, "hostname"), Target: "/etc/hostname", Type: "bind", Options: opts, File: true},
		{Source: filepath.Join(etc, "hosts"), Target: "/etc/hosts", Type: "bind", Options: opts, File: true},
		{Source: filepath.Join(etc, "resolv.conf"), Target: "/etc/resolv.conf", Type: "bind", Options: opts, File: true},
	}
}

// terminationMounts binds the container's termination message file at its
// terminationMessagePath, after every other mount, as the kubelet does. A
// privileged container's /dev is the host's, so there a missing target
// such as /dev/termination-log is made once on the host's /dev, as an
// empty file each such container binds its own file over.
func terminationMounts(l Layout, c *manifests.Container) []container.Mount {
	if c.TerminationMessagePath == "" {
		return nil
	}
	return []container.Mount{{
		Source: l.TerminationMessageFile(c.Name), Target: c.TerminationMessagePath, Type: "bind",
		Options: []string{"bind", "nosuid", "nodev", "noexec"}, File: true,
	}}
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
