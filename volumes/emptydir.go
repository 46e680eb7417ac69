package volumes

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-project/berth/manifests"
)

// emptyDirPlan is how an emptyDir is made: a plain directory, or a tmpfs
// mounted on it with the given mount data.
type emptyDirPlan struct {
	tmpfs     bool
	tmpfsData string
}

// planEmptyDir decides how to make an emptyDir.
//
// medium Memory is a tmpfs, nosuid and nodev, of sizeLimit bytes; without
// sizeLimit it is the tmpfs default, half of the host's RAM. Its pages are
// charged to the memory cgroup of the container that writes them, so the
// container's memory limit applies either way. Its root is 1777, what a
// kubelet-made memory emptyDir has (a disk one is 0777).
//
// On disk a sizeLimit cannot be enforced without project quotas (kubelet
// evicts the pod instead), so it is refused as not supported rather than
// silently ignored.
func planEmptyDir(src *manifests.EmptyDirVolumeSource) (emptyDirPlan, error) {
	switch src.Medium {
	case "":
		if src.SizeLimit != nil {
			return emptyDirPlan{}, fmt.Errorf("emptyDir sizeLimit on disk: %w", ErrNotSupported)
		}
		return emptyDirPlan{}, nil
	case "Memory":
		data := "mode=1777"
		if src.SizeLimit != nil {
			size := src.SizeLimit.Value()
			// size=0 would mean "no limit" to tmpfs.
			if size <= 0 {
				return emptyDirPlan{}, fmt.Errorf("emptyDir sizeLimit %d must be positive: %w", size, ErrInvalid)
			}
			data += ",size=" + strconv.FormatInt(size, 10)
		}
		return emptyDirPlan{tmpfs: true, tmpfsData: data}, nil
	}
	if strings.HasPrefix(src.Medium, "HugePages") {
		return emptyDirPlan{}, fmt.Errorf("emptyDir medium %s: %w", src.Medium, ErrNotSupported)
	}
	return emptyDirPlan{}, fmt.Errorf("emptyDir medium %q is not Memory or empty: %w", src.Medium, ErrInvalid)
}
