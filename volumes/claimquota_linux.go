package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's project quota interface (linux/fs.h, linux/quota.h), the
// same on amd64 and arm64; x/sys/unix does not carry it.
const (
	fsIocFsgetxattr    = 0x801c581f // _IOR('X', 31, struct fsxattr)
	fsIocFssetxattr    = 0x401c5820 // _IOW('X', 32, struct fsxattr)
	fsXflagProjinherit = 0x200
	prjQuota           = 2
	qSetquota          = 0x800008
	qXGetQStatV        = 'X'<<8 + 8 // XQM_CMD(8)
	fsQStatVVersion1   = 1
	fsQuotaPdqEnfd     = 1 << 5 // project limits enforced
	qifBlimits         = 1
	quotaBlock         = 1024 // the unit of if_dqblk's block limits
)

// claimProjectBase is above the project IDs an administrator usually
// hands out (/etc/projid); a claim gets the next ID above every claim's.
const claimProjectBase = 1 << 24

type fsxattr struct {
	Xflags, Extsize, Nextents, Projid, Cowextsize uint32
	Pad                                           [8]byte
}

type ifDqblk struct {
	BHardlimit, BSoftlimit, CurSpace, IHardlimit, ISoftlimit, CurInodes, BTime, ITime uint64
	Valid                                                                             uint32
}

// fsQuotaStatV is struct fs_quota_statv (160 bytes): its version and
// flags lead, the rest berth does not read.
type fsQuotaStatV struct {
	Version int8
	Pad1    uint8
	Flags   uint16
	Rest    [156]byte
}

func qcmd(cmd, typ uint32) uint32 { return cmd<<8 | typ&0xff }

func quotactlFd(f *os.File, cmd, id uint32, addr unsafe.Pointer) error {
	_, _, errno := unix.Syscall6(unix.SYS_QUOTACTL_FD, f.Fd(), uintptr(cmd), uintptr(id), uintptr(addr), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func getProject(f *os.File) (fsxattr, error) {
	var x fsxattr
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFsgetxattr, uintptr(unsafe.Pointer(&x)))
	if errno != 0 {
		return x, errno
	}
	return x, nil
}

// projectQuotaOn reports whether the file system of f enforces project
// quota limits (ext4 or XFS mounted with prjquota), not only counts
// usage. Linux before 5.14 has no quotactl_fd: then quotas count as off.
func projectQuotaOn(f *os.File) bool {
	st := fsQuotaStatV{Version: fsQStatVVersion1}
	if quotactlFd(f, qcmd(qXGetQStatV, prjQuota), 0, unsafe.Pointer(&st)) != nil {
		return false
	}
	return st.Flags&fsQuotaPdqEnfd != 0
}

// limitClaim caps claim k's volume at size bytes with a project quota,
// when its file system enforces them, and reports whether it does; an
// error says why a file system with quotas on could not cap it. The
// volume's directory gets a project ID of its own (kept in the directory:
// the next ID above every claim's) that its new files inherit; what an
// older volume held before its first limit is not counted. Called under
// the store's lock.
func limitClaim(root *os.Root, k ClaimKey, size int64) (bool, error) {
	dir, err := root.Open(filepath.Join(k.Namespace, k.Name))
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", k, err)
	}
	defer dir.Close()
	if !projectQuotaOn(dir) {
		return false, nil
	}
	x, err := getProject(dir)
	if err != nil {
		return false, fmt.Errorf("claim %s: get project: %w", k, err)
	}
	if x.Projid == 0 {
		if x.Projid, err = nextProject(root); err != nil {
			return false, fmt.Errorf("claim %s: %w", k, err)
		}
	}
	x.Xflags |= fsXflagProjinherit
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, dir.Fd(), fsIocFssetxattr, uintptr(unsafe.Pointer(&x))); errno != 0 {
		return false, fmt.Errorf("claim %s: set project %d: %w", k, x.Projid, errno)
	}
	q := ifDqblk{BHardlimit: uint64((size + quotaBlock - 1) / quotaBlock), Valid: qifBlimits}
	if err := quotactlFd(dir, qcmd(qSetquota, prjQuota), x.Projid, unsafe.Pointer(&q)); err != nil {
		return false, fmt.Errorf("claim %s: set project %d quota to %d bytes: %w", k, x.Projid, size, err)
	}
	return true, nil
}

// nextProject is the next project ID above every claim volume's.
func nextProject(root *os.Root) (uint32, error) {
	next := uint32(claimProjectBase)
	nss, err := readNames(root, ".")
	if err != nil {
		return 0, err
	}
	for _, ns := range nss {
		claims, err := readNames(root, ns)
		if err != nil {
			return 0, err
		}
		for _, c := range claims {
			f, err := root.Open(filepath.Join(ns, c))
			if err != nil {
				continue
			}
			x, err := getProject(f)
			f.Close()
			if err == nil && x.Projid >= next {
				next = x.Projid + 1
			}
		}
	}
	return next, nil
}

// readNames lists the directories in rel of root (none when rel is not a
// directory).
func readNames(root *os.Root, rel string) ([]string, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rel, err)
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil && !errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("list %s: %w", rel, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
