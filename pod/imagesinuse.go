package pod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ImagesInUse returns the IDs of the images that the pods with a record
// under stateDir run: every pod berth has created and not yet removed,
// whether running or kept as the last good version of its manifest. The
// image garbage collector never removes them.
func ImagesInUse(stateDir string) (map[string]bool, error) {
	dir := filepath.Join(stateDir, "pods")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pod records: %w", err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		r, err := readRecord(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, id := range r.ImageIDs {
			out[id] = true
		}
	}
	return out, nil
}
