// Package pod runs pods: it turns a reconciler action into the steps that
// create or remove a pod (images, volumes, cgroups, infra, network,
// containers), keeps one record per pod on disk, and on daemon start
// re-attaches to the pods that still run and removes what a crash left.
//
// The Manager's concerns, one file each:
//   - lifecycle.go: create and remove. A pod's creation is a list of steps,
//     each with its undo (Manager.createSteps), that a runner (steps.go)
//     runs, times and, on failure, undoes; the teardown is the same list's
//     undos. The steps reach the host through small interfaces (host.go);
//     their helpers are containers.go, etc.go, images.go (a container's
//     image from the ImageSource, which may be pulling it; imagesinuse.go:
//     the images the pod records name, for the image GC), record.go,
//     seccomp.go and timing.go.
//   - recovery.go: Recover, after a daemon restart or crash.
//   - view.go: what the daemon serves: each pod's View and Events, and the
//     failed creates it shows.
//   - exec.go: ExecTarget, how `berth exec` enters a container.
//   - refresh.go: Refresh, ConfigMap and Secret changes into volumes and
//     the next run's environment.
//   - probes.go: each pod's liveness, readiness and startup probes, run
//     from its network namespace for as long as the pod exists.
//   - hooks.go: each pod's postStart and preStop hooks; signal_linux.go:
//     a container's stop signal.
//
// Decisions are pure functions: layout.go (a pod's identity and where its
// things live), plan.go (container init config), env.go (environment and
// $(VAR)), status.go (phase and container statuses), conditions.go (the
// kubelet's pod conditions, QoS class).
package pod
