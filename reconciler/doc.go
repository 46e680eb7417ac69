// Package reconciler makes the running pods match the desired ones.
//
// It is pure decision logic: Plan compares desired pods (from manifest
// files) with observed pods (from the runtime) and returns a list of
// actions; the Reconciler runs observe -> plan -> execute passes against a
// Runtime it defines and the pod package implements. Nothing here touches
// the kernel, so every rule is tested without root.
//
// The rules, in short:
//   - desired and not observed: Create;
//   - observed and not desired: Delete, unless the file it came from is held
//     (present but invalid), in which case the pod keeps running on its last
//     good spec;
//   - both, spec differs: Replace; its Change (DiffSpec) says field by
//     field what differs and whether it is confined to containers, which
//     the runtime restarts or resizes inside the running pod, or reaches
//     the pod, which it replaces (Change.Replaces);
//   - both, only labels/annotations differ or the pod moved to another file:
//     UpdateMetadata (nothing restarts);
//   - a terminating observed pod gets no new action; its replacement is
//     created once it is gone.
//
// A failed action is recorded, logged once per distinct error and retried
// by a later pass; the loop never tries to repair within a pass.
package reconciler
