package manifests

import "slices"

// Access modes of a claim. On one node ReadWriteOnce is shared by every pod
// of the node, as the kubelet shares it; ReadWriteOncePod admits one pod.
const (
	ReadWriteOnce    = "ReadWriteOnce"
	ReadWriteOncePod = "ReadWriteOncePod"
	ReadOnlyMany     = "ReadOnlyMany"
	ReadWriteMany    = "ReadWriteMany"
)

// accessModes are the modes the API server accepts.
var accessModes = []string{ReadWriteOnce, ReadWriteOncePod, ReadOnlyMany, ReadWriteMany}

// ValidateClaim checks a PersistentVolumeClaim: its name, access modes, size
// request and volume mode. A local volume is a directory: volumeMode Block
// is refused as not supported, and a storage class only means something to
// a cluster's provisioner.
func ValidateClaim(c *PersistentVolumeClaim) []Problem {
	v := &validator{}
	v.objectMeta(&c.ObjectMeta, "metadata")
	s := &c.Spec
	for i, m := range s.AccessModes {
		p := joinIndex("spec.accessModes", i)
		switch {
		case !slices.Contains(accessModes, m):
			v.oneOf(p, m, accessModes...)
		case m == ReadWriteOncePod && len(s.AccessModes) > 1:
			v.errf(p, "ReadWriteOncePod may not be combined with other access modes")
		}
	}
	for _, k := range sortedKeys(s.Resources.Requests) {
		p := joinKey("spec.resources.requests", k)
		q := s.Resources.Requests[k]
		switch {
		case k != "storage":
			v.errf(p, "resource %q is not valid for a claim: request storage", clip(k))
		case q.Sign() <= 0:
			v.errf(p, "must be greater than zero")
		default:
			// The daemon enforces it with a project quota where it can, and
			// warns with an event where it cannot.
			v.add(Warning, p, "storage %s is enforced only where the file system of berth's state directory has project quotas on (ext4 or XFS mounted with prjquota); elsewhere the pod gets a ClaimSizeNotEnforced event and the volume may fill the file system", q.String())
		}
	}
	switch s.VolumeMode {
	case "Filesystem":
	case "Block":
		v.add(Unsupported, "spec.volumeMode", "volumeMode Block is not supported yet by berth: its local volumes are directories; use Filesystem")
	default:
		v.oneOf("spec.volumeMode", s.VolumeMode, "Filesystem", "Block")
	}
	if s.StorageClassName != nil {
		v.add(Warning, "spec.storageClassName", "storageClassName is ignored: it only matters to a cluster's provisioner, and berth keeps every claim in a local directory")
	}
	return v.probs
}

// ClaimOncePod reports whether claim c admits only one pod
// (ReadWriteOncePod). A nil claim (created on first use) is ReadWriteOnce.
func ClaimOncePod(c *PersistentVolumeClaim) bool {
	return c != nil && slices.Contains(c.Spec.AccessModes, ReadWriteOncePod)
}
