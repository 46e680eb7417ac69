package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sysfile"
)

// applyDevicesV1 gives the v1 devices cgroup dir the access a, unless its
// devices.list already shows exactly that. The check keeps a re-ensure
// (`berth exec` re-ensures the container's cgroup) from passing through
// "deny all" while the container runs. The files are written directly:
// cgroup1's devices controller writes every rule on each call.
func applyDevicesV1(dir string, a DeviceAccess) error {
	data, err := os.ReadFile(filepath.Join(dir, "devices.list"))
	if err != nil {
		return fmt.Errorf("read device rules: %w", err)
	}
	if a.v1Shows(string(data)) {
		return nil
	}
	for _, w := range a.v1Writes() {
		if err := sysfile.WriteExisting(filepath.Join(dir, w.file), w.line); err != nil {
			return fmt.Errorf("device rule %q: %w", w.line, err)
		}
	}
	return nil
}

// attachDevicesV2 enforces a on the v2 cgroup dir with a cgroup-device
// eBPF program, generated and attached by containerd's cgroup2 (the same
// program runc generates). AllowAll needs no program. A cgroup that already
// has a device program keeps it: a cgroup's access is decided when it is
// created (a changed spec recreates the pod), and attaching again on each
// re-ensure would stack copies of the program.
func attachDevicesV2(dir string, a DeviceAccess) error {
	if a.AllowAll {
		return nil
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	attached, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	if len(attached.Programs) > 0 {
		return nil
	}
	insts, license, err := cgroup2.DeviceFilter(deviceSpecs(a))
	if err != nil {
		return fmt.Errorf("generate device program: %w", err)
	}
	if _, err := cgroup2.LoadAttachCgroupDeviceFilter(insts, license, fd); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("attach device program to %s (needs CAP_SYS_ADMIN and a kernel with CONFIG_CGROUP_BPF): %w", dir, err)
		}
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	return nil
}

// deviceSpecs is a in the runtime-spec form containerd's program generator
// takes: deny everything, then allow each rule (later entries win).
func deviceSpecs(a DeviceAccess) []specs.LinuxDeviceCgroup {
	any := int64(AnyNumber)
	out := []specs.LinuxDeviceCgroup{{Allow: false, Type: "a", Major: &any, Minor: &any, Access: "rwm"}}
	for _, r := range a.Allowed {
		major, minor := r.Major, r.Minor
		out = append(out, specs.LinuxDeviceCgroup{Allow: true, Type: string(r.Type), Major: &major, Minor: &minor, Access: r.Access})
	}
	return out
}
