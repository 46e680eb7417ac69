// Package volumes makes a pod's volumes ready on the host and plans how
// each container mounts them.
//
// Every volume lives under the pod's volume directory (podDir, normally
// <state>/pods/<id>/volumes), at a path derived only from the volume's
// kind and name, so that Cleanup finds everything after a crash without
// saved state:
//
//	<podDir>/empty-dir/<name>     emptyDir (a tmpfs when medium is Memory)
//	<podDir>/configmap/<name>     configMap, projected files on disk
//	<podDir>/secret/<name>        secret, projected files on a tmpfs
//	<podDir>/downward-api/<name>  downwardAPI, pod fields as files on disk
//	<podDir>/projected/<name>     projected, its sources' files on a tmpfs
//
// hostPath volumes stay where they are; Prepare only checks (or creates)
// them the way kubelet does.
//
// configMap, secret, downwardAPI and projected volumes use kubelet's
// AtomicWriter layout:
//
//	..2024_01_02_15_04_05.123456789/   the files of one version
//	..data -> ..2024_01_02_15_04_05.123456789
//	<key>  -> ..data/<key>             one link per top-level path
//
// An update writes a new timestamped directory and swaps ..data with a
// rename, so a reader sees either the old or the new version, never a mix.
// All writes go through os.Root (berth's own state, never a rootfs), so a
// symlink planted in a volume directory cannot redirect them.
//
// Mounts is pure: it turns a container's volumeMounts into the bind mounts
// that the container init performs inside the container's mount namespace.
package volumes
