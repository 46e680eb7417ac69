package main

import (
	"fmt"
	"strings"
)

// podShape is one of the pods the scenarios run; berth and podman get the
// same YAML.
type podShape int

const (
	oneContainer podShape = iota
	twoSharingEmptyDir
	hostNetwork
	exitsSoon
)

// podYAML renders the pod of the given shape named name, whose containers
// run the demo workload from image. The workload exits promptly on SIGTERM,
// so tear-down measures the runtime, not a grace period.
func podYAML(shape podShape, name, image string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n", name)
	b.WriteString("  terminationGracePeriodSeconds: 10\n")
	switch shape {
	case hostNetwork:
		b.WriteString("  hostNetwork: true\n")
	case exitsSoon:
		b.WriteString("  restartPolicy: Always\n")
	}
	b.WriteString("  containers:\n")
	switch shape {
	case twoSharingEmptyDir:
		container(&b, "writer", image, `["/bin/demo", "--then-sleep", "write", "/shared/hello", "hi"]`, "shared")
		container(&b, "reader", image, `["/bin/demo", "sleep"]`, "shared")
		b.WriteString("  volumes:\n  - name: shared\n    emptyDir: {}\n")
	case exitsSoon:
		container(&b, "main", image, `["/bin/demo", "sleep", "500ms"]`, "")
	default:
		container(&b, "main", image, `["/bin/demo", "sleep"]`, "")
	}
	return b.String()
}

func container(b *strings.Builder, name, image, command, volume string) {
	fmt.Fprintf(b, "  - name: %s\n    image: %s\n    command: %s\n", name, image, command)
	if volume != "" {
		fmt.Fprintf(b, "    volumeMounts:\n    - name: %s\n      mountPath: /shared\n", volume)
	}
}

// multiDoc joins pod documents into one multi-document file.
func multiDoc(docs []string) string { return strings.Join(docs, "---\n") }

// burstNames are the pod names of a burst of n pods.
func burstNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}
