package pod

import "github.com/berth-project/berth/manifests"

// ImagesInUse returns the IDs of the images that the pods with a record
// under stateDir run or mount as image volumes: every pod berth has created and not yet removed,
// whether running or kept as the last good version of its manifest. The
// image garbage collector never removes them.
func ImagesInUse(stateDir string) (map[string]bool, error) {
	recs, err := storedRecords(stateDir)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range recs {
		for _, id := range r.ImageIDs {
			out[id] = true
		}
		for _, id := range r.VolumeImageIDs {
			out[id] = true
		}
	}
	return out, nil
}

// LastGoodPods are the last good specs the pods under stateDir would
// return to (their rollout's), for image garbage collection, which keeps
// the images they name: a rollback must not wait for a pull.
func LastGoodPods(stateDir string) ([]*manifests.Pod, error) {
	recs, err := storedRecords(stateDir)
	if err != nil {
		return nil, err
	}
	var out []*manifests.Pod
	for _, r := range recs {
		if r.Rollout.LastGood != nil {
			out = append(out, r.Rollout.LastGood)
		}
	}
	return out, nil
}
