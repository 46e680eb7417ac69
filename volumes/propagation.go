package volumes

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/berth-project/berth/manifests"
)

// PropagationHostToContainer is the mountPropagation under which mounts
// the host makes below a volume's source after the container started
// appear in the container.
const PropagationHostToContainer = "HostToContainer"

// mountPeering is how the mount holding a path propagates, from mountinfo.
type mountPeering struct {
	mountPoint    string
	shared, slave bool
}

// peeringOf returns the mount of a /proc/PID/mountinfo that holds the
// clean absolute path p: the last listed (the top of a stack) of those
// with the longest mount point at or above p.
func peeringOf(r io.Reader, p string) (mountPeering, error) {
	var best mountPeering
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			return mountPeering{}, fmt.Errorf("mountinfo line %q: too few fields", sc.Text())
		}
		mp := unescapeOctal(fields[4])
		if !pathAtOrBelow(p, mp) || (found && len(mp) < len(best.mountPoint)) {
			continue
		}
		m := mountPeering{mountPoint: mp}
		// Optional fields run from the 7th to the "-" separator.
		for _, f := range fields[6:] {
			if f == "-" {
				break
			}
			m.shared = m.shared || strings.HasPrefix(f, "shared:")
			m.slave = m.slave || strings.HasPrefix(f, "master:")
		}
		best, found = m, true
	}
	if err := sc.Err(); err != nil {
		return mountPeering{}, fmt.Errorf("read mountinfo: %w", err)
	}
	if !found {
		return mountPeering{}, fmt.Errorf("no mount holds %s: %w", p, ErrInvalid)
	}
	return best, nil
}

// pathAtOrBelow reports whether p is dir or below it.
func pathAtOrBelow(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// checkPeering refuses a HostToContainer source whose mount neither
// receives nor forwards mount events: the container would silently see
// nothing, so berth says what to do instead, as containerd's CRI does.
func checkPeering(m mountPeering, source string) error {
	if m.shared || m.slave {
		return nil
	}
	return fmt.Errorf("mountPropagation HostToContainer: %s is on the mount at %s, which is private, so mounts made there would never reach the container: make it shared (mount --make-rshared %s) or use no mountPropagation: %w",
		source, m.mountPoint, m.mountPoint, ErrInvalid)
}

// wantsHostToContainer reports whether any container of pod mounts the
// volume name with HostToContainer propagation.
func wantsHostToContainer(pod *manifests.Pod, name string) bool {
	for _, list := range [][]manifests.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, vm := range c.VolumeMounts {
				if vm.Name == name && vm.MountPropagation == PropagationHostToContainer {
					return true
				}
			}
		}
	}
	return false
}
