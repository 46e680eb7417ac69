package container

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is the decoded form of mount(8)-style options: flags for
// mount(2), propagation changes applied afterwards, and the fs-specific data.
type mountOptions struct {
	flags       uintptr
	propagation []uintptr
	data        string
}

// mountFlags maps option names to the mount(2) flags they set (clear=false)
// or clear (clear=true).
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"async":       {true, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"noatime":     {false, unix.MS_NOATIME},
	"atime":       {true, unix.MS_NOATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"diratime":    {true, unix.MS_NODIRATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"norelatime":  {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
}

// propagationFlags are applied with a separate mount(2) call once the
// mount exists.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits options into flags, propagation and data; the
// options it does not know (size=64m, mode=755, ...) are passed to the
// filesystem as data, in order.
func parseMountOptions(opts []string) mountOptions {
	var mo mountOptions
	var data []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				mo.flags &^= f.flag
			} else {
				mo.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			mo.propagation = append(mo.propagation, p)
			continue
		}
		data = append(data, o)
	}
	mo.data = strings.Join(data, ",")
	return mo
}

// maxMountData is the longest option string mount(2) accepts: the kernel
// copies one page, the last byte being the terminating NUL.
const maxMountData = 4096 - 1

// errOverlayOptionsTooLong means the overlay's lower dirs do not fit in one
// page even relative to their common parent.
var errOverlayOptionsTooLong = errors.New("overlay mount options exceed one page")

// overlayMount is how to mount an overlay: the option string, and the
// directory to chdir to first when lowerdir paths are relative to it
// (empty when they are absolute).
type overlayMount struct {
	data string
	dir  string
}

// planOverlay builds the overlay options for lowers (top first), upper and
// work. When the absolute form is longer than a page it uses paths relative
// to the lowers' common parent, the way containerd does, so that images with
// many layers still mount.
func planOverlay(lowers []string, upper, work string) (overlayMount, error) {
	if len(lowers) == 0 {
		return overlayMount{}, errors.New("overlay needs at least one lower dir")
	}
	for _, p := range append(append([]string{}, lowers...), upper, work) {
		if strings.ContainsAny(p, ":,") {
			return overlayMount{}, fmt.Errorf("overlay dir %q contains ':' or ','", p)
		}
	}
	abs := overlayData(lowers, upper, work)
	if len(abs) <= maxMountData {
		return overlayMount{data: abs}, nil
	}
	dir := commonParent(lowers)
	rel := make([]string, len(lowers))
	for i, l := range lowers {
		r, err := filepath.Rel(dir, l)
		if err != nil {
			return overlayMount{}, fmt.Errorf("lower dir %s relative to %s: %w", l, dir, err)
		}
		rel[i] = r
	}
	short := overlayData(rel, upper, work)
	if len(short) > maxMountData {
		return overlayMount{}, fmt.Errorf("%w: %d bytes for %d layers", errOverlayOptionsTooLong, len(short), len(lowers))
	}
	return overlayMount{data: short, dir: dir}, nil
}

// ReadOnlyOverlay is how to mount an overlay of lowers (top first) with no
// upper dir: the option string, and the directory whose relative paths it
// holds when the absolute ones do not fit in a page (empty when they do).
// The caller then mounts from a thread whose working directory is dir.
func ReadOnlyOverlay(lowers []string) (data, dir string, err error) {
	m, err := planOverlay(lowers, "", "")
	return m.data, m.dir, err
}

// overlayData is the overlay option string; an empty upper makes a
// read-only overlay.
func overlayData(lowers []string, upper, work string) string {
	s := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		s += ",upperdir=" + upper + ",workdir=" + work
	}
	return s
}

// commonParent is the deepest directory containing every path in paths
// (all absolute and clean).
func commonParent(paths []string) string {
	parent := filepath.Dir(filepath.Clean(paths[0]))
	for _, p := range paths[1:] {
		for !within(parent, filepath.Clean(p)) {
			parent = filepath.Dir(parent)
		}
	}
	return parent
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}
