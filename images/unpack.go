package images

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// Whiteout names of the OCI/AUFS layer format.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// cleanEntryName turns a tar entry name into a clean path relative to the
// layer root. Leading slashes are dropped (an absolute "/a" means "a", as
// in Docker); a ".." component anywhere is refused rather than resolved,
// so "/abs/../../x" never becomes "x" by accident. The root itself is ".".
func cleanEntryName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("entry name %q contains NUL: %w", name, ErrUnsafeEntry)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("entry name %q contains '..': %w", name, ErrUnsafeEntry)
		}
	}
	p := path.Clean("/" + name)
	if p == "/" {
		return ".", nil
	}
	return p[1:], nil
}

// whiteoutKind classifies an entry's base name.
type whiteoutKind int

const (
	notWhiteout  whiteoutKind = iota
	whiteoutFile              // ".wh.x": delete x from lower layers
	whiteoutDir               // ".wh..wh..opq": hide lower contents of the dir
	whiteoutAufs              // other ".wh..wh." names: AUFS metadata, skipped
)

// classifyWhiteout returns the kind of base and, for whiteoutFile, the name
// it deletes.
func classifyWhiteout(base string) (whiteoutKind, string, error) {
	switch {
	case base == whiteoutOpaque:
		return whiteoutDir, "", nil
	case strings.HasPrefix(base, whiteoutMeta):
		return whiteoutAufs, "", nil
	case strings.HasPrefix(base, whiteoutPrefix):
		target := base[len(whiteoutPrefix):]
		if target == "" || target == "." || target == ".." {
			return 0, "", fmt.Errorf("whiteout %q: %w", base, ErrUnsafeEntry)
		}
		return whiteoutFile, target, nil
	}
	return notWhiteout, "", nil
}

// xattrPAXPrefix marks extended attributes in PAX records.
const xattrPAXPrefix = "SCHILY.xattr."

// allowedXattr reports whether an xattr from a layer may be applied:
// user.* and file capabilities. trusted.* (including overlayfs' own
// attributes), security.selinux and ACLs from an image are dropped:
// trusted.overlay.* is only ever set by the whiteout conversion.
func allowedXattr(name string) bool {
	return strings.HasPrefix(name, "user.") || name == "security.capability"
}

// validID checks a uid or gid from a tar header (docs/security.md rule 7).
func validID(id int) bool { return id >= 0 && id <= 1<<31-1 }

// budget caps the bytes of one import: read counts decompressed archive
// bytes, written counts file contents put on disk (which differ for
// sparse entries).
type budget struct {
	read, written int64
}

func newBudget(max int64) *budget { return &budget{read: max, written: max} }

// limitedReader charges every byte read to b.read.
type limitedReader struct {
	r io.Reader
	b *budget
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.b.read <= 0 {
		// Probe one byte so that a stream ending exactly at the limit
		// is accepted.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("decompressed data: %w", ErrTooLarge)
		}
		return 0, err
	}
	if int64(len(p)) > l.b.read {
		p = p[:l.b.read]
	}
	n, err := l.r.Read(p)
	l.b.read -= int64(n)
	return n, err
}
