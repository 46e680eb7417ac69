package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// kind is the shape of a slot's pod; a slot keeps its kind for the whole
// run, so a spec edit replaces a pod with one of the same shape.
type kind int

const (
	// single: one container sleeping.
	single kind = iota
	// shared: an init container writes into an emptyDir that a reader
	// and a sidecar mount.
	shared
	// hostPort: an HTTP server published on 127.0.0.1 at a free port.
	hostPort
	kinds
)

func (k kind) String() string {
	return [...]string{"single", "shared", "hostPort"}[k]
}

var policies = []string{"Always", "OnFailure", "Never"}

// slot is one pod name of the run: present or not, and the manifest it
// has when present. gen changes with every spec edit (it is in the
// containers' env, so the daemon must restart them), labels with every
// label-only edit.
type slot struct {
	name    string
	kind    kind
	present bool
	policy  string
	gen     int
	labels  int
	port    int // the hostPort of a hostPort pod; 0 otherwise
}

// restarts reports whether the pod's containers come back after being
// killed, so that the pod still converges to Running.
func (s *slot) restarts() bool { return s.policy != "Never" }

// manifest is the slot's pod as YAML.
func (s *slot) manifest(image string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {chaos-labels: "%d", kind: %s}
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 2
`, s.name, s.labels, s.kind, s.policy)
	env := fmt.Sprintf(`    env: [{name: CHAOS_GEN, value: "%d"}]
`, s.gen)
	switch s.kind {
	case single:
		fmt.Fprintf(&b, `  containers:
  - name: main
    image: %s
    command: ["/bin/demo", "sleep"]
%s`, image, env)
	case shared:
		fmt.Fprintf(&b, `  volumes:
  - name: scratch
    emptyDir: {}
  initContainers:
  - name: prepare
    image: %[1]s
    command: ["/bin/demo", "write", "/scratch/gen", "%[3]d"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  containers:
  - name: reader
    image: %[1]s
    command: ["/bin/demo", "--then-sleep", "read", "/scratch/gen"]
    volumeMounts: [{name: scratch, mountPath: /scratch, readOnly: true}]
%[2]s  - name: sidecar
    image: %[1]s
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
%[2]s`, image, env, s.gen)
	case hostPort:
		fmt.Fprintf(&b, `  containers:
  - name: web
    image: %s
    command: ["/bin/demo", "serve", "--port", "8080"]
    ports: [{containerPort: 8080, hostPort: %d, hostIP: 127.0.0.1}]
%s`, image, s.port, env)
	}
	return b.String()
}

// edit is one change to the manifest set.
type edit int

const (
	create edit = iota
	editSpec
	editLabels
	remove
)

func (e edit) String() string {
	return [...]string{"create", "edit-spec", "edit-labels", "delete"}[e]
}

// nextEdit picks a slot and what to do to it: an absent slot is created;
// a present one gets a spec edit (which may change its restart policy), a
// label-only edit or a delete. It changes the slot and returns the edit.
// ports gives a free host port for a new hostPort pod.
func nextEdit(r *rand.Rand, slots []*slot, ports func() (int, error)) (*slot, edit, error) {
	s := slots[r.IntN(len(slots))]
	if !s.present {
		if s.kind == hostPort {
			p, err := ports()
			if err != nil {
				return nil, 0, err
			}
			s.port = p
		}
		s.present = true
		s.gen++
		s.policy = policies[r.IntN(len(policies))]
		return s, create, nil
	}
	switch n := r.IntN(10); {
	case n < 4:
		s.gen++
		if r.IntN(3) == 0 {
			s.policy = policies[r.IntN(len(policies))]
		}
		return s, editSpec, nil
	case n < 7:
		s.labels++
		return s, editLabels, nil
	default:
		s.present = false
		return s, remove, nil
	}
}

// newSlots names n slots, their kinds in turn; prefix makes the names
// unique to the run (veth names derive from a pod's namespace and name).
func newSlots(n int, prefix string) []*slot {
	out := make([]*slot, n)
	for i := range out {
		out[i] = &slot{name: fmt.Sprintf("%s-%d", prefix, i), kind: kind(i % int(kinds)), policy: "Always"}
	}
	return out
}
