package container

// DefaultMounts returns the filesystems every container gets before its
// own Mounts, as runc's default spec has them: /proc, a small tmpfs /dev
// with /dev/pts, /dev/shm and /dev/mqueue, and a read-only /sys.
func DefaultMounts() []Mount {
	return []Mount{
		{Source: "proc", Target: "/proc", Type: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Source: "tmpfs", Target: "/dev", Type: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Source: "devpts", Target: "/dev/pts", Type: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Source: "shm", Target: "/dev/shm", Type: "tmpfs", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Source: "mqueue", Target: "/dev/mqueue", Type: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Source: "sysfs", Target: "/sys", Type: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

// systemMounts adapts DefaultMounts to a privileged container: the host's
// /dev is bound instead of a tmpfs, and /sys is writable.
func systemMounts(privileged bool) []Mount {
	ms := DefaultMounts()
	if !privileged {
		return ms
	}
	for i := range ms {
		switch ms[i].Target {
		case "/dev":
			ms[i] = Mount{Source: "/dev", Target: "/dev", Type: "bind", Options: []string{"rbind", "nosuid"}}
		case "/sys":
			ms[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
		}
	}
	return ms
}

// DefaultMaskedPaths returns the paths containerd and Docker hide from
// unprivileged containers.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
		"/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// DefaultReadonlyPaths returns the paths containerd and Docker make
// read-only in unprivileged containers.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// devices are the nodes of a minimal /dev (type is always character).
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3},
	{"zero", 1, 5},
	{"full", 1, 7},
	{"random", 1, 8},
	{"urandom", 1, 9},
	{"tty", 5, 0},
}

// devSymlinks are the links of a minimal /dev.
var devSymlinks = []struct{ name, target string }{
	{"ptmx", "pts/ptmx"},
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}
