package pod

import (
	"errors"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifests"
)

// image returns container c's image: from Config.Pull when set, else
// from the store only.
func (m *Manager) image(p *manifests.Pod, c *manifests.Container) (images.Image, error) {
	if m.cfg.Pull != nil {
		return m.cfg.Pull.Resolve(p.Namespace, p.Name, c.Image, c.ImagePullPolicy)
	}
	return m.cfg.Images.Get(c.Image)
}

// volumeImage returns an image volume's image, as image does a
// container's.
func (m *Manager) volumeImage(p *manifests.Pod, v *manifests.ImageVolumeSource) (images.Image, error) {
	if m.cfg.Pull != nil {
		return m.cfg.Pull.Resolve(p.Namespace, p.Name, v.Reference, v.PullPolicy)
	}
	return m.cfg.Images.Get(v.Reference)
}

// pullReason is the status reason an ImageSource gave with its error
// (ErrImagePull, ImagePullBackOff, ErrImageNeverPull, ContainerCreating).
func pullReason(err error) (string, bool) {
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		return r.Reason(), true
	}
	return "", false
}
