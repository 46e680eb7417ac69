package volumes

import (
	"io"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/mountinfo"
)

// parseMountPoints returns the mount point of each line of a
// /proc/PID/mountinfo, in order.
func parseMountPoints(r io.Reader) ([]string, error) {
	entries, err := mountinfo.Parse(r)
	if err != nil {
		return nil, err
	}
	points := make([]string, len(entries))
	for i, e := range entries {
		points[i] = e.MountPoint
	}
	return points, nil
}

// mountsUnder selects the mount points at or below dir and orders them for
// unmounting: deepest first, and among equal paths (mounts stacked on one
// another) the most recent first.
func mountsUnder(points []string, dir string) []string {
	var under []string
	for i := len(points) - 1; i >= 0; i-- {
		if p := points[i]; mountinfo.Under(p, dir) {
			under = append(under, p)
		}
	}
	sort.SliceStable(under, func(i, j int) bool {
		return strings.Count(under[i], "/") > strings.Count(under[j], "/")
	})
	return under
}
