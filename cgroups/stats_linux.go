package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StatsDirs returns where the statistics of container ctr of pod are, or of
// the pod cgroup itself when ctr is "".
func (m *Manager) StatsDirs(pod, ctr string) (StatsDirs, error) {
	if err := ValidateName(pod); err != nil {
		return StatsDirs{}, err
	}
	if ctr == "" {
		return m.l.statsDirs(pod), nil
	}
	if err := ValidateName(ctr); err != nil {
		return StatsDirs{}, err
	}
	return m.l.statsDirs(pod, ctr), nil
}

// ReadStats reads the cgroup's statistics files. It reads them directly
// rather than through containerd's Stat, which reads many more files per
// call and reports a missing counter as 0. A cgroup that does not exist
// (any more) is an error wrapping os.ErrNotExist.
func ReadStats(d StatsDirs) (Stats, error) {
	files := map[string]string{}
	for _, f := range d.Files() {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			if _, derr := os.Stat(filepath.Dir(f)); derr != nil {
				return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, derr)
			}
			continue // a file this kernel does not have
		}
		if err != nil {
			return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, err)
		}
		files[filepath.Base(f)] = string(data)
	}
	s, err := ParseStats(d.Mode, files)
	if err != nil {
		return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, err)
	}
	return s, nil
}
