package main

import (
	"strconv"
	"strings"
)

// inCgroup reports whether a /proc/PID/cgroup file (one
// "id:controllers:path" line per hierarchy) puts the process at or below
// the cgroup parent in any hierarchy.
func inCgroup(procCgroup, parent string) bool {
	for line := range strings.Lines(procCgroup) {
		_, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		for _, part := range strings.Split(path, "/") {
			if part == parent {
				return true
			}
		}
	}
	return false
}

// mountsUnder returns the mount points of a mountinfo listing that are dir
// or below it, octal escapes decoded, and the entries whose source or
// root names dir (a bind of something under it elsewhere).
func mountsUnder(mountinfo, dir string) []string {
	var out []string
	for line := range strings.Lines(mountinfo) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		root, point := unescapeMount(f[3]), unescapeMount(f[4])
		source := ""
		for i, x := range f {
			if x == "-" && i+2 < len(f) {
				source = unescapeMount(f[i+2])
			}
		}
		if under(point, dir) || under(root, dir) || under(source, dir) {
			out = append(out, point)
		}
	}
	return out
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// unescapeMount decodes mountinfo's \ooo escapes (space, tab, newline,
// backslash).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
