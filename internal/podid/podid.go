// Package podid names a pod where the host holds it: its identity, and the
// forms of it that fit the kernel's and the file system's limits. The CLI
// names manifest files with it, the runtime its directories, cgroups and
// rules, so it is a leaf both may import.
package podid

import (
	"crypto/sha256"
	"encoding/hex"
)

// ID is a pod's stable identity on this host, derived from namespace and
// name only, so that cleanup after a crash can find everything a pod held
// (directories, cgroups, veth, lease) without any saved state.
func ID(namespace, name string) string { return namespace + "_" + name }

// maxKernelID is the longest pod identity used as it is where the kernel
// and the file system hold it: nftables rule comments, interface aliases,
// cgroup and state directory names.
const maxKernelID = 100

// KernelID is the pod's identity in those places: the identity itself, or,
// when it is too long, its first 83 bytes, '-' and a 16-character hash of
// the whole (RunKey), so that it stays unique and derivable without saved
// state.
func KernelID(id string) string {
	if len(id) <= maxKernelID {
		return id
	}
	return id[:maxKernelID-17] + "-" + RunKey(id)
}

// RunKey names a pod's runtime directory: a hash of its identity, because a
// unix socket path must fit in 108 bytes and a pod's namespace and name
// together may take 317.
func RunKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}
