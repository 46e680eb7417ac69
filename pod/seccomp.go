package pod

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/seccompload"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/seccomp"
)

// SeccompProfile is the seccomp profile container c of pod p runs with and
// the field path that chose it ("" for the default). The container's
// seccompProfile overrides the pod's; a pod that names none gets
// RuntimeDefault, as with Docker and Podman (Kubernetes defaults to
// Unconfined); a privileged container runs unconfined unless it names a
// Localhost profile, as with containerd.
func SeccompProfile(p *manifests.Pod, c *manifests.Container) (seccomp.Profile, string) {
	sp, path := (*manifests.SeccompProfile)(nil), ""
	if sc := p.Spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		sp, path = sc.SeccompProfile, "spec.securityContext.seccompProfile"
	}
	if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		sp, path = sc.SeccompProfile, containerPath(p, c)+".securityContext.seccompProfile"
	}
	privileged := c.SecurityContext != nil && isTrue(c.SecurityContext.Privileged)
	switch {
	case sp != nil && sp.Type == seccomp.Localhost && sp.LocalhostProfile != nil:
		return seccomp.Profile{Type: seccomp.Localhost, Localhost: *sp.LocalhostProfile}, path
	case privileged:
		return seccomp.Profile{Type: seccomp.Unconfined}, path
	case sp != nil:
		return seccomp.Profile{Type: sp.Type}, path
	}
	return seccomp.Profile{Type: seccomp.RuntimeDefault}, ""
}

// containerPath is the field path of container c in p's spec.
func containerPath(p *manifests.Pod, c *manifests.Container) string {
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == c.Name {
			return fmt.Sprintf("spec.initContainers[%d]", i)
		}
	}
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == c.Name {
			return fmt.Sprintf("spec.containers[%d]", i)
		}
	}
	return "spec.containers[name=" + c.Name + "]"
}

// containerConfig is ContainerConfig with the container's seccomp filter,
// compiled (or taken from the compiler's cache) for its capabilities.
func (m *Manager) containerConfig(in ContainerInput) (container.Config, error) {
	cfg, err := ContainerConfig(in)
	if err != nil {
		return container.Config{}, err
	}
	cfg.NoPivot = m.cfg.NoPivot
	prof, path := SeccompProfile(in.Pod, in.Container)
	caps := cfg.Capabilities
	if cfg.Privileged {
		caps = container.AllCapabilities()
	}
	cfg.Seccomp, err = m.seccomp.Filter(prof, caps)
	switch {
	case err != nil && prof.Type == seccomp.Localhost:
		return container.Config{}, fmt.Errorf("container %s: %s.localhostProfile: %w: Localhost profiles are read from %s, and the path must stay inside it", in.Container.Name, path, err, m.seccomp.Dir())
	case err != nil:
		return container.Config{}, fmt.Errorf("container %s: seccomp profile %s: %w", in.Container.Name, prof.Type, err)
	}
	return cfg, nil
}

// writeFilterFiles writes each container's seccomp program to a file in
// the pod's run directory, named by its digest (once for the containers
// that share it), and leaves the config naming the file: the infra keeps
// and forwards the path, and the init stage reads the program from it
// (seccompload.Filter.File). Only a create's configs go so, to the infra
// it has just launched, which speaks this daemon's protocol; an update's
// keep the program inline, which an infra of any version forwards.
func writeFilterFiles(l Layout, lists ...[]infra.ContainerConfig) error {
	for _, list := range lists {
		for i := range list {
			f := list[i].Init.Seccomp
			if f == nil || len(f.Program) == 0 {
				continue
			}
			sum := sha256.Sum256(f.Program)
			path := l.SeccompFile(hex.EncodeToString(sum[:]))
			if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					return fmt.Errorf("seccomp filter of container %s: %w", list[i].Name, err)
				}
				if err := atomicfile.Replace(path, f.Program, 0o600); err != nil {
					return fmt.Errorf("seccomp filter of container %s: %w", list[i].Name, err)
				}
			} else if err != nil {
				return fmt.Errorf("seccomp filter of container %s: %w", list[i].Name, err)
			}
			list[i].Init.Seccomp = &seccompload.Filter{File: path, Flags: f.Flags}
		}
	}
	return nil
}
