// Package downward holds the kubelet's downward API semantics that need no
// host: the text of a pod's fields as a downwardAPI volume writes them, and
// a container's resources as resourceFieldRef reads them, with the node's
// allocatable resources standing in for a missing limit. It is pure.
package downward

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-project/berth/manifests"
)

// ErrInvalid is a field path, resource or container name that cannot be
// resolved.
var ErrInvalid = errors.New("invalid downward API reference")

// Node is the node's allocatable resources: what a container without a
// limit may use, as the kubelet reports them to resourceFieldRef.
type Node struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
}

// Pod is a pod as the downward API sees it: its manifest, the uid berth
// gave it, and the node it runs on.
type Pod struct {
	Pod  *manifests.Pod
	UID  string
	Node Node
}

// FormatMap renders labels or annotations as the kubelet writes them to a
// file: one key="value" line per key (the value Go-quoted), sorted by key,
// with no newline after the last.
func FormatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	return b.String()
}

// VolumeField is the content of a downwardAPI volume file with fieldRef
// path: metadata.name, namespace, uid, labels and annotations (whole, or
// one key as metadata.labels['KEY']), the fields a volume may carry.
func VolumeField(p Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return p.Pod.Name, nil
	case "metadata.namespace":
		return p.Pod.Namespace, nil
	case "metadata.uid":
		return p.UID, nil
	case "metadata.labels":
		return FormatMap(p.Pod.Labels), nil
	case "metadata.annotations":
		return FormatMap(p.Pod.Annotations), nil
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return p.Pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return p.Pod.Annotations[key], nil
	}
	return "", fmt.Errorf("fieldPath %q cannot be projected into a volume: use metadata.name, metadata.namespace, metadata.uid, metadata.labels or metadata.annotations: %w", path, ErrInvalid)
}

// subscript returns KEY of prefix['KEY'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// Resource is the value of resourceFieldRef sel for container name of p,
// as the kubelet computes it: a limit the container does not set is the
// node's allocatable amount, a request it does not set is its limit when
// it sets one (the API server's default) and 0 otherwise; the amount is
// divided by the divisor (1 when unset) and rounded up, cpu in
// millicores over the divisor's millicores.
func Resource(p Pod, name string, sel *manifests.ResourceFieldSelector) (string, error) {
	c := findContainer(p.Pod, name)
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: container %q is not in the pod: %w", name, ErrInvalid)
	}
	kind, res, _ := strings.Cut(sel.Resource, ".")
	if !slices.Contains(manifests.ResourceFieldResources, sel.Resource) {
		return "", fmt.Errorf("resourceFieldRef: resource %q is not one of %s: %w", sel.Resource, strings.Join(manifests.ResourceFieldResources, ", "), ErrInvalid)
	}
	q, set := c.Resources.Limits[res]
	if kind == "requests" {
		if r, ok := c.Resources.Requests[res]; ok {
			q, set = r, true
		}
	}
	divisor := manifests.MustParseQuantity("1")
	if sel.Divisor != nil && sel.Divisor.Sign() > 0 {
		divisor = *sel.Divisor
	}
	var amount, per int64
	switch {
	case res == "cpu":
		amount, per = q.MilliValue(), divisor.MilliValue()
	default:
		amount, per = q.Value(), divisor.Value()
	}
	if !set {
		amount = 0
		if kind == "limits" {
			amount = p.Node.allocatable(res)
		}
	}
	return strconv.FormatInt(ceilDiv(amount, per), 10), nil
}

// allocatable is the node's amount of resource res, in the unit Resource
// divides (millicores for cpu, bytes otherwise).
func (n Node) allocatable(res string) int64 {
	switch res {
	case "cpu":
		return n.MilliCPU
	case "memory":
		return n.Memory
	}
	return n.EphemeralStorage
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}

// findContainer is the container or init container called name.
func findContainer(p *manifests.Pod, name string) *manifests.Container {
	for _, list := range [][]manifests.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
