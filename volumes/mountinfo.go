package volumes

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// parseMountPoints returns the mount point (field 5) of each line of a
// /proc/PID/mountinfo, in order, with the kernel's octal escapes of space,
// tab, newline and backslash decoded.
func parseMountPoints(r io.Reader) ([]string, error) {
	var points []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			return nil, fmt.Errorf("mountinfo line %q: too few fields", sc.Text())
		}
		points = append(points, unescapeOctal(fields[4]))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return points, nil
}

// unescapeOctal decodes the \NNN escapes the kernel writes in mountinfo.
func unescapeOctal(s string) string {
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

// mountsUnder selects the mount points at or below dir and orders them for
// unmounting: deepest first, and among equal paths (mounts stacked on one
// another) the most recent first.
func mountsUnder(points []string, dir string) []string {
	var under []string
	for i := len(points) - 1; i >= 0; i-- {
		if p := points[i]; p == dir || strings.HasPrefix(p, dir+"/") {
			under = append(under, p)
		}
	}
	sort.SliceStable(under, func(i, j int) bool {
		return strings.Count(under[i], "/") > strings.Count(under[j], "/")
	})
	return under
}
