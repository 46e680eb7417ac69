package volumes

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkPropagation checks that the mount holding source (a volume's host
// path) carries the mount events that propagation prop needs.
func checkPropagation(source, prop string) error {
	real, err := filepath.EvalSymlinks(source)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", source, err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("open mountinfo: %w", err)
	}
	defer f.Close()
	m, err := peeringOf(f, real)
	if err != nil {
		return err
	}
	return checkPeering(m, source, prop)
}
