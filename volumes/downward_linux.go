package volumes

import (
	"fmt"
	"os"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

// Subdirectories of podDir for downwardAPI and projected volumes.
const (
	downwardAPIDir = "downward-api"
	projectedDir   = "projected"
)

// prepareDownwardAPI writes the pod's fields into the volume's directory
// on disk, as a configMap volume.
func prepareDownwardAPI(root *os.Root, podDir string, v *manifests.Volume, p downward.Pod, nested []string, own *ownership) (Prepared, error) {
	pl, err := downwardAPIPayload(v.DownwardAPI, p)
	if err != nil {
		return Prepared{}, err
	}
	return prepareOnDisk(root, podDir, downwardAPIDir, v.Name, KindDownwardAPI, pl, nested, own)
}

// prepareProjected writes a projected volume on a tmpfs of its own, as a
// secret volume, since it may hold secrets (the kubelet's is memory-backed
// too).
func prepareProjected(root *os.Root, podDir string, v *manifests.Volume, p downward.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, nested []string, own *ownership) (Prepared, error) {
	pl, err := projectedPayload(v.Projected, p, cms, secrets)
	if err != nil {
		return Prepared{}, err
	}
	return prepareOnTmpfs(root, podDir, projectedDir, v.Name, KindProjected, pl, nested, own)
}

// updateDownward rewrites a prepared downwardAPI or projected volume.
func updateDownward(prep Prepared, v *manifests.Volume, p downward.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, nested []string, own *ownership) error {
	if v.DownwardAPI != nil {
		if prep.Kind != KindDownwardAPI {
			return fmt.Errorf("prepared as %s, not %s: %w", prep.Kind, KindDownwardAPI, ErrInvalid)
		}
		pl, err := downwardAPIPayload(v.DownwardAPI, p)
		if err != nil {
			return err
		}
		return writeOwned(prep.Path, pl, nested, own)
	}
	if prep.Kind != KindProjected {
		return fmt.Errorf("prepared as %s, not %s: %w", prep.Kind, KindProjected, ErrInvalid)
	}
	pl, err := projectedPayload(v.Projected, p, cms, secrets)
	if err != nil {
		return err
	}
	return writeSecret(prep.Path, pl, nested, own)
}
