// Package container is the container init stage. Start, called in the
// pod's infra, clones a process (new mount namespace, and new pid namespace
// unless the pod shares one) that re-executes berth as `container-init`;
// Main, in that process, builds the rootfs from a Config, pivots into it,
// drops credentials and capabilities, and execs the user's program. See
// README.md for the order of the steps and the security rules behind them.
//
// The Config is computed purely by package pod from the manifest, the image
// and the pod's plan; this package only executes it.
package container

import "github.com/berth-project/berth/internal/seccompload"

// Config is everything the init stage needs. It is serialised as JSON and
// passed to `berth container-init --config-fd=N`.
type Config struct {
	// ID names the container in logs and errors ("default/web/nginx").
	ID string `json:"id"`

	// Rootfs: an overlay of LowerDirs (top first, as overlayfs wants them)
	// with UpperDir/WorkDir, mounted on RootfsDir (an empty directory that
	// exists on the host, private to berth). With one lower dir and no
	// UpperDir the layer is bound read-only instead, and the image must
	// then have the /proc, /dev and /sys mount points.
	LowerDirs []string `json:"lowerDirs"`
	UpperDir  string   `json:"upperDir"`
	WorkDir   string   `json:"workDir"`
	RootfsDir string   `json:"rootfsDir"`
	// ReadOnlyRootfs remounts the rootfs read-only after all mounts are made.
	ReadOnlyRootfs bool `json:"readOnlyRootfs,omitempty"`
	// NoPivot roots the container by moving its rootfs onto / and chroot,
	// as runc's --no-pivot does, for hosts whose root is the initial ramfs,
	// where pivot_root(2) fails. The mounts outside the rootfs are detached
	// first; the isolation is weaker (see MoveRoot).
	NoPivot bool `json:"noPivot,omitempty"`

	// Mounts are applied in order after DefaultMounts (/proc, /dev, /sys);
	// each Target is resolved inside the rootfs without following symlinks
	// out of it.
	Mounts []Mount `json:"mounts,omitempty"`

	// Hostname, when set, gives the container its own UTS namespace with
	// this name. Containers of a pod leave it empty: they share the pod's
	// UTS namespace, whose name the infra sets.
	Hostname string `json:"hostname,omitempty"`

	// Terminal gives the command a pseudo-terminal as stdin, stdout,
	// stderr and controlling terminal, made by the init stage in the
	// container's own /dev/pts (so that ttyname(3) and /dev/tty work
	// there); its master goes back to Start's caller (StartOptions.Terminal)
	// and the stdio given to Start is not used.
	Terminal bool `json:"terminal,omitempty"`

	// Args is the command: the image's entrypoint and cmd as the manifest
	// overrides them.
	Args []string `json:"args"`
	// Process is how the command runs.
	Process

	// Privileged keeps all capabilities, a read-write /sys and the host's
	// devices, and skips masked/read-only paths.
	Privileged bool `json:"privileged,omitempty"`

	// MaskedPaths are hidden (bind of /dev/null, or an empty read-only tmpfs
	// for directories); ReadonlyPaths are remounted read-only. Callers
	// normally use DefaultMaskedPaths and DefaultReadonlyPaths; both are
	// skipped for Privileged containers.
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`

	// CgroupProcs are the cgroup.procs files of the v1 cgroups the init
	// joins before anything of the container runs: its main thread moves
	// (0 written to the tasks file beside each), and execs the workload.
	// On v2 the process is cloned straight into its cgroup and this is
	// empty.
	CgroupProcs []string `json:"cgroupProcs,omitempty"`
}

// Process is how a container's processes run: the init stage runs the
// container's command with it, and `berth exec` repeats it for the command
// it runs in the container (execin.Config embeds it, and so does the API's
// exec target). Embedded, its fields are JSON fields of the embedding
// struct.
type Process struct {
	Env []string `json:"env"`
	Cwd string   `json:"cwd"`

	// User is Docker-style "user[:group]" (names or numbers); names are
	// resolved against the rootfs's /etc/passwd and /etc/group after
	// pivot_root, and the user's supplementary groups are added unless a
	// group is given. "" is root. Ids above 2^31-1 are refused. HOME is
	// set from passwd when Env has none.
	User string `json:"user,omitempty"`
	// AdditionalGIDs are added to the supplementary groups.
	AdditionalGIDs []uint32 `json:"additionalGids,omitempty"`
	// RunAsNonRoot refuses to exec when the resolved UID is 0.
	RunAsNonRoot bool `json:"runAsNonRoot,omitempty"`

	// Capabilities (names like "CAP_NET_BIND_SERVICE", see
	// ComputeCapabilities) form the bounding set, and the permitted and
	// effective sets when the user is root; a non-root user has none.
	// The inheritable set is always empty (CVE-2022-24769).
	Capabilities []string `json:"capabilities"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS before exec.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Seccomp is the compiled seccomp filter, nil for none (Unconfined).
	// With NoNewPrivileges it is loaded last, just before execve; without,
	// loading needs CAP_SYS_ADMIN, so it is loaded before the credentials
	// change, and the profile must allow what the init does after that.
	Seccomp *seccompload.Filter `json:"seccomp,omitempty"`

	// OOMScoreAdj is written to the init's oom_score_adj before anything of
	// the container runs (it starts with the infra's): every process of the
	// container inherits it.
	OOMScoreAdj int `json:"oomScoreAdj"`
}

// Mount is one mount made inside the container's rootfs.
type Mount struct {
	// Source is a host path (for binds) or a fs-specific source.
	Source string `json:"source"`
	// Target is an absolute path inside the container.
	Target string `json:"target"`
	// Type is "bind", "tmpfs", "proc", "sysfs", "devpts" or "mqueue".
	Type string `json:"type"`
	// Options are mount(8)-style options: "ro", "nosuid", "nodev",
	// "noexec", "rbind", "rprivate", "size=64m", "mode=755", ...
	Options []string `json:"options,omitempty"`
	// SubPath, when set, is a relative path resolved inside Source (a
	// directory) without leaving it; the bind source is the result, opened
	// by fd so that a symlink swapped in later cannot redirect it.
	SubPath string `json:"subPath,omitempty"`
	// File is true when the target must be created as an empty file rather
	// than a directory; a bind of a non-directory source implies it.
	File bool `json:"file,omitempty"`
}
