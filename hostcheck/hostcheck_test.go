package hostcheck

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/mountinfo"
)

func TestParseRelease(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"6.1.0-56-cloud-amd64", Version{6, 1, 0}, false},
		{"5.15.153.1-microsoft-standard-WSL2", Version{5, 15, 153}, false},
		{"5.4.0", Version{5, 4, 0}, false},
		{"4.19-rc1", Version{4, 19, 0}, false},
		{"6.8.0+", Version{6, 8, 0}, false},
		{"", Version{}, true},
		{"linux", Version{}, true},
		{"6", Version{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRelease(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRelease(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrUnknownKernel) {
			t.Errorf("ParseRelease(%q) error %v does not wrap ErrUnknownKernel", tt.in, err)
		}
	}
}

func TestParseFilesystemsAndModules(t *testing.T) {
	fs := ParseFilesystems("nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n")
	if strings.Join(fs, ",") != "sysfs,tmpfs,ext4,overlay" {
		t.Errorf("ParseFilesystems = %v", fs)
	}
	dep := "kernel/fs/overlayfs/overlay.ko: \nkernel/net/netfilter/nf_tables.ko.xz: kernel/net/netfilter/nfnetlink.ko.xz\n"
	tests := []struct {
		name    string
		indexes []string
		want    bool
	}{
		{"nf_tables", []string{dep}, true},
		{"nf-tables", []string{dep}, true},
		{"overlay", []string{dep}, true},
		{"overlay", []string{"kernel/fs/ext4/ext4.ko\n"}, false},
		{"overlay", []string{"", "kernel/fs/overlayfs/overlay.ko\n"}, true},
		{"nfnetlink", []string{dep}, false}, // only a dependency column, not a module line
		{"overlay", nil, false},
	}
	for _, tt := range tests {
		if got := ModuleAvailable(tt.name, tt.indexes...); got != tt.want {
			t.Errorf("ModuleAvailable(%q, %q) = %v, want %v", tt.name, tt.indexes, got, tt.want)
		}
	}
}

// good are the facts of a host where everything is in place.
func good() Facts {
	return Facts{
		EUID: 0, Release: "6.1.0-56-cloud-amd64", Filesystems: []string{"ext4", "overlay"},
		CgroupMode:  cgroups.V2,
		Controllers: map[string]error{cgroups.CPU: nil, cgroups.Memory: nil, cgroups.Pids: nil},
	}
}

func missingController(c string) error {
	return fmt.Errorf("%w: controller %s not enabled in /sys/fs/cgroup/cgroup.subtree_control: enable it there", cgroups.ErrControllerMissing, c)
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*Facts)
		fatal     []error  // each must match one fatal problem, in order
		warnings  []error  // the same for warnings
		mentions  []string // text the problems must contain (what to do)
		wantClean bool
	}{
		{name: "all good", change: func(*Facts) {}, wantClean: true},
		{
			name:     "no CAP_SYS_RESOURCE",
			change:   func(f *Facts) { f.NoSysResource = true },
			warnings: []error{ErrNoSysResource},
			mentions: []string{"oom_score_adj", "-997"},
		},
		{
			name:     "root is the initial ramfs: containers move their root and chroot",
			change:   func(f *Facts) { f.RamfsRoot = true },
			warnings: []error{ErrRamfsRoot},
			mentions: []string{"pivot_root", "chroot", "switch_root"},
		},
		{
			name:   "overlay as a loadable module counts",
			change: func(f *Facts) { f.Filesystems, f.OverlayModule = []string{"ext4"}, true },

			wantClean: true,
		},
		{
			name:     "not root",
			change:   func(f *Facts) { f.EUID = 1000 },
			fatal:    []error{ErrNotRoot},
			mentions: []string{"euid 1000", "run it as root"},
		},
		{
			name:     "no overlay",
			change:   func(f *Facts) { f.Filesystems = []string{"ext4", "tmpfs"} },
			fatal:    []error{ErrNoOverlay},
			mentions: []string{"/proc/filesystems", "modprobe overlay", "CONFIG_OVERLAY_FS"},
		},
		{
			name:     "v2 kernel without CLONE_INTO_CGROUP",
			change:   func(f *Facts) { f.Release = "5.4.0-150-generic" },
			fatal:    []error{ErrKernelTooOld},
			mentions: []string{"CLONE_INTO_CGROUP", "5.7.0", "systemd.unified_cgroup_hierarchy=0"},
		},
		{
			name:      "v1 places processes before exec: 5.4 is enough",
			change:    func(f *Facts) { f.Release, f.CgroupMode = "5.4.0-150-generic", cgroups.Hybrid },
			wantClean: true,
		},
		{
			name:     "no pidfd_open anywhere",
			change:   func(f *Facts) { f.Release, f.CgroupMode = "4.19.0-27-amd64", cgroups.V1 },
			fatal:    []error{ErrKernelTooOld},
			mentions: []string{"pidfd_open", "5.3.0"},
		},
		{
			name:   "unparsable release",
			change: func(f *Facts) { f.Release = "" },
			fatal:  []error{ErrUnknownKernel},
		},
		{
			name:     "memory missing only warns",
			change:   func(f *Facts) { f.Controllers[cgroups.Memory] = missingController(cgroups.Memory) },
			warnings: []error{cgroups.ErrControllerMissing},
			mentions: []string{"pods that set a memory limit will fail", "enable it there"},
		},
		{
			name:     "pids missing is fatal",
			change:   func(f *Facts) { f.Controllers[cgroups.Pids] = missingController(cgroups.Pids) },
			fatal:    []error{cgroups.ErrControllerMissing},
			mentions: []string{"every pod needs the pids controller"},
		},
		{
			name:   "a controller not probed is fatal",
			change: func(f *Facts) { delete(f.Controllers, cgroups.CPU) },
			fatal:  []error{cgroups.ErrControllerMissing},
		},
		{
			name:     "nf_tables missing",
			change:   func(f *Facts) { f.NFTables = fmt.Errorf("list nftables tables: %w", syscall.EINVAL) },
			fatal:    []error{ErrNoNFTables},
			mentions: []string{"modprobe nf_tables", "CONFIG_NF_TABLES"},
		},
		{
			name:     "nf_tables refused",
			change:   func(f *Facts) { f.NFTables = fmt.Errorf("list nftables tables: %w", syscall.EPERM) },
			fatal:    []error{ErrNoNFTables},
			mentions: []string{"CAP_NET_ADMIN"},
		},
		{
			name: "every problem at once, in a stable order",
			change: func(f *Facts) {
				f.EUID, f.Filesystems, f.Release = 1, nil, "5.0.0"
				f.Controllers[cgroups.Memory] = missingController(cgroups.Memory)
				f.NFTables = syscall.EPROTONOSUPPORT
			},
			fatal:    []error{ErrNotRoot, ErrNoOverlay, ErrKernelTooOld, ErrKernelTooOld, ErrNoNFTables},
			warnings: []error{cgroups.ErrControllerMissing},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good()
			tt.change(&f)
			r := Evaluate(f)
			if tt.wantClean != (r.Err() == nil && len(r.Warnings) == 0) {
				t.Fatalf("report %+v, want clean %v", r, tt.wantClean)
			}
			matchAll(t, "fatal", r.Fatal, tt.fatal)
			matchAll(t, "warning", r.Warnings, tt.warnings)
			text := fmt.Sprint(r.Err(), errors.Join(r.Warnings...))
			for _, m := range tt.mentions {
				if !strings.Contains(text, m) {
					t.Errorf("problems do not mention %q:\n%s", m, text)
				}
			}
			for _, want := range tt.fatal {
				if !errors.Is(r.Err(), want) {
					t.Errorf("Err() does not wrap %v", want)
				}
			}
		})
	}
}

func matchAll(t *testing.T, kind string, got, want []error) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %s problems, want %d: %v", len(got), kind, len(want), got)
	}
	for i := range want {
		if !errors.Is(got[i], want[i]) {
			t.Errorf("%s problem %d = %v, want one wrapping %v", kind, i, got[i], want[i])
		}
	}
}

func TestRamfsRoot(t *testing.T) {
	tests := []struct {
		name, mountinfo string
		want            bool
	}{
		{"initial ramfs", "1 1 0:1 / / rw - rootfs rootfs rw\n20 1 0:20 / /proc rw - proc proc rw\n", true},
		{"switched root", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", false},
		{"tmpfs root after switch_root", "30 1 0:30 / / rw - tmpfs root rw\n", false},
		{"a mount stacked on the ramfs", "1 1 0:1 / / rw - rootfs rootfs rw\n2 1 0:2 / / rw - tmpfs t rw\n", false},
		{"no root listed", "20 1 0:20 / /proc rw - proc proc rw\n", false},
	}
	for _, tt := range tests {
		entries, err := mountinfo.Parse(strings.NewReader(tt.mountinfo))
		if err != nil {
			t.Fatal(err)
		}
		if got := RamfsRoot(entries); got != tt.want {
			t.Errorf("%s: RamfsRoot() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
