// Package cgroups places berth's pods and containers in cgroups and applies
// their resource limits on cgroup v1, hybrid (v1 controllers plus an empty
// cgroup2 mount) and v2 (unified) hosts.
//
// Layout, the same in every hierarchy, derived only from names so that crash
// cleanup finds everything without saved state:
//
//	<hierarchy>/<parent>/<pod>          pod cgroup: pod-level limits, no processes
//	<hierarchy>/<parent>/<pod>/_infra   the pod's infra process
//	<hierarchy>/<parent>/<pod>/<ctr>    one container
//
// On v2 <hierarchy> is the unified mount; on v1 and hybrid hosts it is each
// of the v1 hierarchies berth uses (cpu, memory, pids, devices, and cpuacct
// where it is mounted apart from cpu, for CPU time). The infra
// leaf exists on v2 because of the no-internal-processes rule; v1 uses the
// same layout so that both modes look alike. Its name starts with '_', which no Kubernetes
// container name (a DNS label) can, so it never collides with a container.
//
// Device access (devices.go) is the same on every host: containers and the
// infra may use only DefaultDevices, privileged containers every device.
// v1 enforces it with the devices controller, v2 with a cgroup-device eBPF
// program on the container's cgroup; pod cgroups are left allowing all.
//
// cpuset is not used: v1 would need cpuset.cpus and cpuset.mems copied into
// every new cgroup, and no Pod field berth supports needs CPU pinning.
//
// The package splits into pure parts (resource computation in resources.go,
// names and paths in layout.go, file parsing in kv.go) and the code that
// touches cgroupfs (*_linux.go). Resource values are written through
// github.com/containerd/cgroups/v3; the few operations that library lacks
// (recursive removal, bounded kill, counters whose absence matters) read and
// write cgroupfs directly, each with a comment saying why.
package cgroups
