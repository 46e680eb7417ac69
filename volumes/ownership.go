package volumes

import "github.com/berth-project/berth/manifests"

// Permission bits the kubelet's SetVolumeOwnership adds for fsGroup.
const (
	groupRW   = 0o660
	groupRO   = 0o440
	groupExec = 0o110
	setgidBit = 0o2000
	setuidBit = 0o4000
	permBits  = 0o7777
)

// ownership is what a pod's fsGroup asks of one volume, as the kubelet
// applies it: every file and directory group-owned by gid (the owner is
// kept), group-readable (and group-writable unless the volume is read-only,
// like configMap and secret volumes), directories also group-searchable and
// setgid so that new files inherit the group.
type ownership struct {
	gid      uint32
	readOnly bool
	// onRootMismatch skips the walk when the volume's root already has the
	// group and the bits (fsGroupChangePolicy: OnRootMismatch).
	onRootMismatch bool
}

// podOwnership is the ownership for a volume of pod, nil without fsGroup.
func podOwnership(pod *manifests.Pod, readOnly bool) *ownership {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		return nil
	}
	return &ownership{gid: uint32(*sc.FSGroup), readOnly: readOnly, onRootMismatch: sc.FSGroupChangePolicy == "OnRootMismatch"}
}

// mask is the bits a file must have.
func (o ownership) mask(isDir bool) uint32 {
	m := uint32(groupRW)
	if o.readOnly {
		m = groupRO
	}
	if isDir {
		m |= groupExec | setgidBit
	}
	return m
}

// mode is the permission bits a file of mode gets: its own plus the mask.
// A regular file's setuid and setgid bits are dropped (chown drops them
// anyway, and the kubelet's walk never set them); a directory keeps its
// sticky bit.
func (o ownership) mode(mode uint32, isDir bool) uint32 {
	mode &= permBits
	if !isDir {
		mode &^= setuidBit | setgidBit
	}
	return mode | o.mask(isDir)
}

// skipWalk reports whether the walk can be skipped: only with
// onRootMismatch, and only when the root has the group, every bit of the
// mask, and (for a directory) setgid, as the kubelet's
// requiresPermissionChange decides.
func (o ownership) skipWalk(rootGID, rootMode uint32, isDir bool) bool {
	if !o.onRootMismatch || rootGID != o.gid {
		return false
	}
	m := o.mask(isDir)
	return rootMode&m == m
}

// groupReadable returns p with every file group-readable, as the files of
// a configMap or secret volume of a pod with fsGroup end up (0400 becomes
// 0440), so that a rewrite compares equal to what the walk left.
func (p payload) groupReadable() payload {
	out := make(payload, len(p))
	for name, f := range p {
		f.mode |= groupRO
		out[name] = f
	}
	return out
}
