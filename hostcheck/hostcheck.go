// Package hostcheck decides, at daemon start-up, whether the host can run
// pods: root, overlayfs, a kernel new enough for the syscalls berth relies
// on, the cgroup controllers behind the limits, and nf_tables. Each problem
// names what is missing and what to do about it.
//
// The decisions (Evaluate and the parsers) are pure functions over Facts;
// Gather (gather_linux.go) reads the facts from /proc, the kernel and
// cgroupfs. Problems that make every pod fail are fatal; a problem that only
// affects pods asking for something (a memory limit without the memory
// controller) is a warning, and those pods fail with the reason in their
// status while the others run.
package hostcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/mountinfo"
)

// Sentinels for each kind of problem; findings wrap one of them (missing
// cgroup controllers wrap cgroups.ErrControllerMissing).
var (
	ErrNotRoot       = errors.New("not running as root")
	ErrNoOverlay     = errors.New("overlayfs not available")
	ErrKernelTooOld  = errors.New("kernel too old")
	ErrNoNFTables    = errors.New("nf_tables not usable")
	ErrUnknownKernel = errors.New("kernel release not understood")
	ErrNoSysResource = errors.New("CAP_SYS_RESOURCE missing")
	ErrRamfsRoot     = errors.New("the root file system is the initial ramfs")
)

// Version is a kernel version, compared by major, minor, patch.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	return slices.Compare([]int{v.Major, v.Minor, v.Patch}, []int{w.Major, w.Minor, w.Patch}) < 0
}

// ParseRelease reads the version at the start of a uname release such as
// "6.1.0-56-cloud-amd64" or "5.15.153.1-microsoft-standard-WSL2".
func ParseRelease(release string) (Version, error) {
	nums := make([]int, 0, 3)
	for _, part := range strings.SplitN(release, ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			return Version{}, fmt.Errorf("kernel release %q: %w", release, ErrUnknownKernel)
		}
		nums = append(nums, n)
		if end < len(part) {
			break // "0-56-cloud": the rest is not a version
		}
	}
	if len(nums) < 2 {
		return Version{}, fmt.Errorf("kernel release %q: %w", release, ErrUnknownKernel)
	}
	nums = append(nums, 0)
	return Version{nums[0], nums[1], nums[2]}, nil
}

// ParseFilesystems returns the filesystem types of /proc/filesystems
// ("nodev\toverlay" lines and plain "ext4" lines).
func ParseFilesystems(data string) []string {
	var out []string
	for _, line := range strings.Split(data, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[len(f)-1])
		}
	}
	return out
}

// ModuleAvailable reports whether modules.dep or modules.builtin (their
// contents given) list the module name, so that the kernel can load it on
// first use (mount -t overlay asks for "fs-overlay", which modprobe finds).
// Module files are named with '-' or '_' interchangeably.
func ModuleAvailable(name string, indexes ...string) bool {
	want := strings.ReplaceAll(name, "-", "_")
	for _, idx := range indexes {
		for _, line := range strings.Split(idx, "\n") {
			path, _, _ := strings.Cut(line, ":")
			base := path[strings.LastIndex(path, "/")+1:]
			base, _, _ = strings.Cut(base, ".ko")
			if base != "" && strings.ReplaceAll(base, "-", "_") == want {
				return true
			}
		}
	}
	return false
}

// Facts are what the checks decide on.
type Facts struct {
	// EUID is the daemon's effective user id.
	EUID int
	// Release is the kernel release (uname -r).
	Release string
	// Filesystems are the types /proc/filesystems lists.
	Filesystems []string
	// OverlayModule is true when overlay is not registered yet but the
	// kernel can load it as a module on the first mount.
	OverlayModule bool
	// CgroupMode is the host's cgroup layout.
	CgroupMode cgroups.Mode
	// Controllers maps each controller berth uses to nil when usable, or
	// to the error (with its fix) that cgroups.Manager.Check gives.
	Controllers map[string]error
	// NFTables is the error of listing nftables tables, nil when it worked.
	NFTables error
	// NoSysResource is true when the daemon lacks CAP_SYS_RESOURCE, which
	// lowering an oom_score_adj needs.
	NoSysResource bool
	// RamfsRoot is true when / is the initial ramfs (RamfsRoot of the
	// daemon's mountinfo), where pivot_root(2) cannot work.
	RamfsRoot bool
}

// RamfsRoot reports whether the mounts a process sees (its mountinfo) have
// the initial ramfs as their root, as on a diskless or netbooted host that
// never switched root: the kernel names it "rootfs".
func RamfsRoot(entries []mountinfo.Entry) bool {
	root := ""
	for _, e := range entries {
		if e.MountPoint == "/" {
			root = e.FSType // the last one listed is on top
		}
	}
	return root == "rootfs"
}

// feature is a kernel feature berth needs, with the first release that
// has it and the cgroup modes that need it (nil: every mode).
type feature struct {
	name  string
	since Version
	modes []cgroups.Mode
	fix   string
}

// features lists the syscalls berth uses without a fallback.
var features = []feature{
	{
		name: "pidfd_open (signals and waits never hit a reused PID)", since: Version{5, 3, 0},
		fix: "upgrade the kernel to 5.3 or later",
	},
	{
		name: "CLONE_INTO_CGROUP (processes start inside their cgroup on cgroup v2)", since: Version{5, 7, 0},
		modes: []cgroups.Mode{cgroups.V2},
		fix: "upgrade the kernel to 5.7 or later, or boot with cgroup v1 " +
			"(systemd.unified_cgroup_hierarchy=0), where berth places processes before exec",
	},
}

// requiredControllers are needed by every pod: the default pids limit
// (a security default) and the CPU weight derived from requests apply to
// each container, whatever the manifest says. Memory is only needed by
// pods that set a memory limit.
var requiredControllers = []string{cgroups.CPU, cgroups.Pids}

// Report is the outcome of the checks.
type Report struct {
	// Fatal problems stop the daemon: no pod could run.
	Fatal []error
	// Warnings are problems that make only some pods fail.
	Warnings []error
}

// Err joins the fatal problems, or returns nil when there are none.
func (r Report) Err() error {
	if len(r.Fatal) == 0 {
		return nil
	}
	return fmt.Errorf("this host cannot run berth pods:\n%w", errors.Join(r.Fatal...))
}

// Evaluate decides what the facts mean for berth. It never stops at the
// first problem, so that a user fixes everything in one round.
func Evaluate(f Facts) Report {
	var r Report
	if err := CheckRoot(f.EUID); err != nil {
		r.Fatal = append(r.Fatal, err)
	}
	if !slices.Contains(f.Filesystems, "overlay") && !f.OverlayModule {
		r.Fatal = append(r.Fatal, fmt.Errorf("%w: /proc/filesystems lists no overlay and no overlay "+
			"module is installed: run `modprobe overlay`, install the kernel's modules package, "+
			"or build the kernel with CONFIG_OVERLAY_FS", ErrNoOverlay))
	}
	r.Fatal = append(r.Fatal, kernelProblems(f.Release, f.CgroupMode)...)
	for _, c := range cgroups.Controllers {
		err, known := f.Controllers[c]
		switch {
		case !known:
			r.Fatal = append(r.Fatal, fmt.Errorf("controller %s was not probed: %w", c, cgroups.ErrControllerMissing))
		case err == nil:
		case slices.Contains(requiredControllers, c):
			r.Fatal = append(r.Fatal, fmt.Errorf("every pod needs the %s controller: %w", c, err))
		default:
			r.Warnings = append(r.Warnings, fmt.Errorf("pods that set a %s limit will fail to start: %w", c, err))
		}
	}
	if f.NFTables != nil {
		r.Fatal = append(r.Fatal, nftablesProblem(f.NFTables))
	}
	if f.NoSysResource {
		r.Warnings = append(r.Warnings, fmt.Errorf("%w: the containers of Guaranteed pods and the pods' infra processes "+
			"keep the daemon's oom_score_adj instead of the kubelet's -997 and -998, so the kernel's OOM killer may pick "+
			"them before Burstable containers: run the daemon with root's full capabilities", ErrNoSysResource))
	}
	if f.RamfsRoot {
		r.Warnings = append(r.Warnings, fmt.Errorf("%w, where pivot_root(2) cannot work: containers are rooted by "+
			"moving their root onto / and chroot, as runc's --no-pivot does, with the host's other mounts detached "+
			"from their namespace; a privileged container (CAP_SYS_ADMIN) could unmount its root and reach the "+
			"host's files: for pivot_root, have the boot switch_root onto a tmpfs (Alpine: a sys or data install)", ErrRamfsRoot))
	}
	return r
}

// CheckRoot fails unless euid is root. The daemon calls it first, before
// it creates any directory; Evaluate repeats it for completeness.
func CheckRoot(euid int) error {
	if euid == 0 {
		return nil
	}
	return fmt.Errorf("%w (euid %d): berth creates namespaces, cgroups, "+
		"mounts and network interfaces; run it as root (sudo, or the berth.service unit)", ErrNotRoot, euid)
}

// kernelProblems lists the features the kernel release lacks for mode.
func kernelProblems(release string, mode cgroups.Mode) []error {
	v, err := ParseRelease(release)
	if err != nil {
		return []error{err}
	}
	var out []error
	for _, ft := range features {
		if ft.modes != nil && !slices.Contains(ft.modes, mode) {
			continue
		}
		if v.Less(ft.since) {
			out = append(out, fmt.Errorf("%w: kernel %s lacks %s, added in %s: %s",
				ErrKernelTooOld, release, ft.name, ft.since, ft.fix))
		}
	}
	return out
}

// nftablesProblem explains a failed nftables listing. The kernel answers
// EPROTONOSUPPORT without nfnetlink, and EINVAL (after failing to load
// it) without nf_tables; EPERM means a missing CAP_NET_ADMIN, not a module.
func nftablesProblem(err error) error {
	fix := "load the modules (`modprobe nf_tables nft_chain_nat nft_masq nft_ct nft_fib_inet`) " +
		"or build the kernel with CONFIG_NF_TABLES; berth uses nf_tables for pod NAT and hostPorts"
	if errors.Is(err, fs.ErrPermission) {
		fix = "the daemon lacks CAP_NET_ADMIN: run it as root on the host, not in a restricted container"
	}
	return fmt.Errorf("%w (%w): %s", ErrNoNFTables, err, fix)
}
