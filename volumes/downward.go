package volumes

import (
	"fmt"
	"io/fs"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

// KindDownwardAPI and KindProjected are the kinds of downwardAPI and
// projected volumes in Prepared.Kind.
const (
	KindDownwardAPI = "downwardAPI"
	KindProjected   = "projected"
)

// downwardPayload projects the pod's fields and its containers' resources
// as items asks, each file with its mode or def.
func downwardPayload(p downward.Pod, items []manifests.DownwardAPIVolumeFile, def fs.FileMode) (payload, error) {
	into := payload{}
	for i, it := range items {
		if err := checkItemPath(it.Path); err != nil {
			return nil, fmt.Errorf("items[%d].path: %w", i, err)
		}
		mode, err := fileMode(it.Mode, def)
		if err != nil {
			return nil, fmt.Errorf("items[%d].mode: %w", i, err)
		}
		var text string
		switch {
		case it.FieldRef != nil:
			text, err = downward.VolumeField(p, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			text, err = downward.Resource(p, it.ResourceFieldRef.ContainerName, it.ResourceFieldRef)
		default:
			err = fmt.Errorf("no fieldRef or resourceFieldRef: %w", ErrInvalid)
		}
		if err != nil {
			return nil, fmt.Errorf("items[%d]: %w", i, err)
		}
		if _, dup := into[it.Path]; dup {
			return nil, fmt.Errorf("items[%d].path %q used twice: %w", i, it.Path, ErrInvalid)
		}
		into[it.Path] = file{data: []byte(text), mode: mode}
	}
	return into, checkNesting(into)
}

// downwardAPIPayload is the content of a downwardAPI volume.
func downwardAPIPayload(src *manifests.DownwardAPIVolumeSource, p downward.Pod) (payload, error) {
	def, err := fileMode(src.DefaultMode, defaultFileMode)
	if err != nil {
		return nil, fmt.Errorf("defaultMode: %w", err)
	}
	return downwardPayload(p, src.Items, def)
}

// projectedPayload merges a projected volume's sources, in order, with the
// volume's defaultMode for every file without a mode of its own. A path
// two sources both write is refused, as the API server refuses it.
func projectedPayload(src *manifests.ProjectedVolumeSource, p downward.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret) (payload, error) {
	out := payload{}
	for i, s := range src.Sources {
		var part payload
		var err error
		switch {
		case s.ConfigMap != nil:
			part, err = configMapPayload(&manifests.ConfigMapVolumeSource{
				Name: s.ConfigMap.Name, Items: s.ConfigMap.Items, Optional: s.ConfigMap.Optional, DefaultMode: src.DefaultMode,
			}, cms[s.ConfigMap.Name])
		case s.Secret != nil:
			part, err = secretPayload(&manifests.SecretVolumeSource{
				SecretName: s.Secret.Name, Items: s.Secret.Items, Optional: s.Secret.Optional, DefaultMode: src.DefaultMode,
			}, secrets[s.Secret.Name])
		case s.DownwardAPI != nil:
			part, err = downwardAPIPayload(&manifests.DownwardAPIVolumeSource{Items: s.DownwardAPI.Items, DefaultMode: src.DefaultMode}, p)
		default:
			err = fmt.Errorf("no configMap, secret or downwardAPI: %w", ErrInvalid)
		}
		if err != nil {
			return nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
		for k, f := range part {
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("sources[%d]: path %q is written by an earlier source too: %w", i, k, ErrInvalid)
			}
			out[k] = f
		}
	}
	return out, checkNesting(out)
}
