// Package metrics exposes berth's pods, containers and node to Prometheus
// under the names dashboards already query: cAdvisor's container_* and
// machine_* series with its labels (container, id, image, namespace, pod;
// the pod's own cgroup has container=""), kube-state-metrics'
// kube_pod_container_status_restarts_total, and berth_* series for the
// daemon's own pipeline, beside client_golang's go_* and process_* ones.
//
// Everything is read when a scrape asks (no background updater): an idle
// berth does no work between scrapes. The daemon hands the collector a
// Source that lists pods with their cgroup directories, infra PID and
// writable layers; the cgroup files are parsed by package cgroups,
// /proc/<pid>/net/dev here (netdev.go), both pure. The collector builds
// its metric families itself, with each cgroup's label pairs kept while
// its pod is listed (labels.go), and they are served beside the
// registry's (Go, process, the daemon's counters and histograms), gzipped
// at the fastest level (gzip.go).
//
// top.go turns two scrapes into `berth top pods`, as `kubectl top pods`
// prints it.
package metrics
