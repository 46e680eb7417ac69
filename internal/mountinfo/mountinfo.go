// Package mountinfo parses /proc/PID/mountinfo, the kernel's list of the
// mounts a process sees: for the volumes' cleanup and propagation checks,
// the container init's move of its root, and the fault harness.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Entry is one line of mountinfo.
type Entry struct {
	// ID and Parent are the mount's and its parent's IDs; the root of the
	// namespace names a parent it does not list.
	ID, Parent int
	// Root is the mounted directory within its file system, MountPoint
	// where it is mounted, relative to the reader's root.
	Root, MountPoint string
	// Optional holds the propagation fields: "shared:N", "master:N", ...
	Optional []string
	// FSType is the file system's type ("ext4", "overlay", "rootfs"),
	// Source its source ("/dev/sda1", "tmpfs", an overlay's name).
	FSType, Source string
}

// Parse reads every line of a mountinfo, in order, with the kernel's
// octal escapes of space, tab, newline and backslash decoded.
func Parse(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		e, err := parseLine(sc.Text())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// parseLine reads "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE
// SOURCE SUPER".
func parseLine(line string) (Entry, error) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(fields) {
		return Entry{}, fmt.Errorf("mountinfo line %q: too few fields", line)
	}
	id, err1 := strconv.Atoi(fields[0])
	parent, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		return Entry{}, fmt.Errorf("mountinfo line %q: mount IDs are not numbers", line)
	}
	return Entry{
		ID: id, Parent: parent,
		Root: Unescape(fields[3]), MountPoint: Unescape(fields[4]),
		Optional: fields[6:sep],
		FSType:   Unescape(fields[sep+1]),
		Source:   Unescape(fields[sep+2]),
	}, nil
}

// Unescape decodes the \NNN escapes the kernel writes in mountinfo.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Under reports whether path p is dir or below it (both clean and
// absolute).
func Under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
