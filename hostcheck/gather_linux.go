package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/mountinfo"
)

// Sources says where Gather reads its facts; tests point it at fakes. The
// zero value of a field selects the host's own.
type Sources struct {
	// Filesystems is /proc/filesystems.
	Filesystems string
	// Modules is /lib/modules (the running kernel's directory is below it).
	Modules string
	// Release overrides the kernel release uname reports.
	Release string
	// Mountinfo is /proc/self/mountinfo.
	Mountinfo string
	// NFTables lists nftables tables; the default asks the kernel over
	// netlink in the daemon's network namespace.
	NFTables func() error
}

// Gather reads the facts: the effective uid, the kernel release, the
// filesystems and modules, the controllers cg can use, and whether
// nf_tables answers. Reading errors become facts that fail a check (an
// unreadable /proc/filesystems reads as "no overlay"), never a panic.
func Gather(s Sources, cg *cgroups.Manager) Facts {
	if s.Filesystems == "" {
		s.Filesystems = "/proc/filesystems"
	}
	if s.Modules == "" {
		s.Modules = "/lib/modules"
	}
	if s.Release == "" {
		s.Release = release()
	}
	if s.Mountinfo == "" {
		s.Mountinfo = "/proc/self/mountinfo"
	}
	if s.NFTables == nil {
		s.NFTables = listNFTables
	}
	f := Facts{
		EUID:        os.Geteuid(),
		Release:     s.Release,
		CgroupMode:  cg.Mode(),
		Controllers: map[string]error{},
		NFTables:    s.NFTables(),
	}
	if data, err := os.ReadFile(s.Filesystems); err == nil {
		f.Filesystems = ParseFilesystems(string(data))
	}
	var indexes []string
	for _, name := range []string{"modules.dep", "modules.builtin"} {
		if data, err := os.ReadFile(filepath.Join(s.Modules, s.Release, name)); err == nil {
			indexes = append(indexes, string(data))
		}
	}
	f.OverlayModule = ModuleAvailable("overlay", indexes...)
	for _, c := range cgroups.Controllers {
		f.Controllers[c] = cg.Check([]string{c})
	}
	f.NoSysResource = !hasCapability(unix.CAP_SYS_RESOURCE)
	if mi, err := os.Open(s.Mountinfo); err == nil {
		entries, _ := mountinfo.Parse(mi)
		mi.Close()
		f.RamfsRoot = RamfsRoot(entries)
	}
	return f
}

// hasCapability reports whether the calling thread has capability c in
// its effective set.
func hasCapability(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// release returns uname's release string ("" when uname fails, which the
// kernel check reports as not understood).
func release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// listNFTables asks the kernel for its IPv4 nftables tables, which loads
// nf_tables on demand when it is a module. The connection is not lasting:
// the library opens and closes a netlink socket for the one request.
func listNFTables() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	if _, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4); err != nil {
		return fmt.Errorf("list nftables tables: %w", err)
	}
	return nil
}
