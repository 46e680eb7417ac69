// Package manifests parses and validates the Kubernetes documents berth
// accepts: v1 Pod, ConfigMap, Secret and PersistentVolumeClaim, in YAML
// (several documents per file) or JSON.
//
// Parsing is strict and reports every problem it finds, each with the file,
// the document, the Kubernetes-style field path
// (spec.containers[1].volumeMounts[0].name, metadata.labels[app]) and the
// line. Problems come in three severities: Error (invalid), Unsupported
// (valid Kubernetes that berth does not implement yet, listed in support.go)
// and Warning (cluster-only fields that mean nothing on one node; they are
// ignored). A document with an Error or Unsupported problem must not be run.
//
// The package is pure: it reads bytes and returns values. It never touches
// the kernel (imports_test.go enforces that).
package manifests
