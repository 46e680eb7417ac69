package seccomp

import (
	"errors"
	"fmt"
	"slices"

	mobyseccomp "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Kernel is a kernel version as Docker profiles compare it: "6.1" of
// "6.1.0-28-amd64".
type Kernel struct{ Major, Minor uint64 }

func (k Kernel) atLeast(v *mobyseccomp.KernelVersion) bool {
	return k.Major > v.Kernel || k.Major == v.Kernel && k.Minor >= v.Major
}

// Target is what a profile is resolved for: a container's bounding set of
// capabilities (CAP_* names), the host's GOARCH and kernel.
type Target struct {
	Caps   []string
	GOARCH string
	Kernel Kernel
}

// resolve turns a Docker-format profile into the flat OCI form for t, with
// Docker's rules (moby/profiles' setupSeccomp, which resolves for the
// running GOARCH and kernel only): archMap expands to the native
// architecture and its sub-architectures; an entry with includes applies
// only when every listed cap is in the bounding set, the native arch is
// listed and the kernel is at least minKernel; an entry with excludes is
// dropped when any listed cap is held, the native arch is listed or the
// kernel is at least minKernel. A profile with neither a default action
// nor syscalls means no filter (nil).
func resolve(p *mobyseccomp.Seccomp, t Target) (*specs.LinuxSeccomp, error) {
	native, ok := nativeArch[t.GOARCH]
	if !ok {
		return nil, fmt.Errorf("architecture %s is not supported (amd64 and arm64 are)", t.GOARCH)
	}
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return nil, nil
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, errors.New("both architectures and archMap are set: use one")
	}
	out := p.LinuxSeccomp
	out.Architectures = slices.Clone(p.Architectures)
	out.Syscalls = nil
	for _, a := range p.ArchMap {
		if a.Arch == native.spec {
			out.Architectures = append(append(out.Architectures, a.Arch), a.SubArches...)
			break
		}
	}
	for i, call := range p.Syscalls {
		if call == nil {
			return nil, fmt.Errorf("syscalls[%d] is null", i)
		}
		sc := call.LinuxSyscall
		if call.Name != "" {
			if len(sc.Names) != 0 {
				return nil, fmt.Errorf("syscalls[%d]: both name and names are set: use names", i)
			}
			sc.Names = []string{call.Name}
		}
		if applies(call, native.name, t) {
			out.Syscalls = append(out.Syscalls, sc)
		}
	}
	return &out, nil
}

// applies decides an entry's includes and excludes.
func applies(call *mobyseccomp.Syscall, arch string, t Target) bool {
	if ex := call.Excludes; ex != nil {
		if slices.Contains(ex.Arches, arch) {
			return false
		}
		for _, c := range ex.Caps {
			if slices.Contains(t.Caps, c) {
				return false
			}
		}
		if ex.MinKernel != nil && t.Kernel.atLeast(ex.MinKernel) {
			return false
		}
	}
	if in := call.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, arch) {
			return false
		}
		for _, c := range in.Caps {
			if !slices.Contains(t.Caps, c) {
				return false
			}
		}
		if in.MinKernel != nil && !t.Kernel.atLeast(in.MinKernel) {
			return false
		}
	}
	return true
}
