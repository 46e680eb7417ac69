package reconciler

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/berth-project/berth/manifests"
)

// Scope is how far a change between two versions of a pod reaches.
type Scope int

// The scopes, from the least to the most disruptive.
const (
	// ScopeNone: nothing changed.
	ScopeNone Scope = iota
	// ScopeMetadata: only labels or annotations changed; nothing runs
	// differently.
	ScopeMetadata
	// ScopeContainers: the change is confined to some containers, which a
	// runtime could restart or resize without touching the pod.
	ScopeContainers
	// ScopePod: the change reaches the pod itself (its namespaces,
	// volumes, network, init containers...): the pod must be replaced.
	ScopePod
)

var scopeNames = map[Scope]string{
	ScopeNone:       "none",
	ScopeMetadata:   "metadata",
	ScopeContainers: "containers",
	ScopePod:        "pod",
}

func (s Scope) String() string {
	if n, ok := scopeNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// ContainerChange is what changed in one container that both versions
// have.
type ContainerChange struct {
	Name string
	// Live is set when every change is a resource the container's cgroups
	// can take while it runs (resizePolicy NotRequired); otherwise the
	// container must restart.
	Live bool
	// Fields are the paths that differ, such as
	// "spec.containers[name=web].image".
	Fields []string
}

// Change is the field-by-field difference between the pod that runs and
// the one the manifest asks for, classified. It is data: what to do with
// it is the executor's decision (see Replaces).
type Change struct {
	Scope Scope
	// Metadata are the metadata paths that differ ("metadata.labels").
	Metadata []string
	// Pod are the spec paths that reach the pod (set when Scope is
	// ScopePod), with Why saying, when the path alone does not, why they
	// do ("a hostPort changed").
	Pod []string
	Why []string
	// Containers are the containers whose own fields differ, in the
	// order of the new spec; with ScopePod they are replaced with it.
	Containers []ContainerChange
}

// Replaces reports whether the runtime replaces the whole pod for c: for
// a pod-level change. A change confined to containers restarts or resizes
// them inside the running pod.
func (c Change) Replaces() bool { return c.Scope == ScopePod }

// Fields are every path that differs: metadata, pod, then containers.
func (c Change) Fields() []string {
	out := slices.Concat(c.Metadata, c.Pod)
	for _, cc := range c.Containers {
		out = append(out, cc.Fields...)
	}
	return out
}

// Restarts are the containers a change confined to containers restarts.
func (c Change) Restarts() []string { return c.containers(false) }

// Resizes are the containers it resizes live.
func (c Change) Resizes() []string { return c.containers(true) }

func (c Change) containers(live bool) []string {
	var out []string
	for _, cc := range c.Containers {
		if cc.Live == live {
			out = append(out, cc.Name)
		}
	}
	return out
}

// String summarises c for logs and Action reasons: the paths that differ
// and, for a pod-level change, why.
func (c Change) String() string {
	if c.Scope == ScopeNone {
		return "unchanged"
	}
	s := summarise(c.Fields()) + " changed"
	if len(c.Why) > 0 {
		s += " (" + strings.Join(c.Why, "; ") + ")"
	}
	return s
}

// summarise lists up to three paths and counts the others.
func summarise(paths []string) string {
	const show = 3
	if len(paths) <= show {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:show], ", "), len(paths)-show)
}

// podField says how a field of manifests.PodSpec is compared.
type podField int

const (
	// podLevel: any difference replaces the pod.
	podLevel podField = iota + 1
	// perContainer: the containers, compared one by one by name.
	perContainer
)

// podSpecFields classifies every field of manifests.PodSpec by its JSON
// name. A field missing here is compared as pod-level (the safe side),
// and TestEveryPodFieldIsClassified fails for it.
var podSpecFields = map[string]podField{
	"volumes":                       podLevel, // mounts made before the containers
	"initContainers":                podLevel, // run once, before the containers
	"containers":                    perContainer,
	"restartPolicy":                 podLevel, // the infra's supervisor
	"terminationGracePeriodSeconds": podLevel,
	"activeDeadlineSeconds":         podLevel,
	"dnsPolicy":                     podLevel, // the pod's resolv.conf
	"dnsConfig":                     podLevel,
	"hostNetwork":                   podLevel, // the infra's namespaces
	"hostPID":                       podLevel,
	"hostIPC":                       podLevel,
	"shareProcessNamespace":         podLevel,
	"imagePullSecrets":              podLevel, // the credentials of every container's pull
	"os":                            podLevel,
	"securityContext":               podLevel, // sysctls, fsGroup, ids every container inherits
	"hostname":                      podLevel, // the UTS namespace and /etc/hosts
	"subdomain":                     podLevel,
	"hostAliases":                   podLevel, // the pod's /etc/hosts
}

// containerField says how a field of manifests.Container is compared.
type containerField int

const (
	// restart: a difference restarts the container.
	restart containerField = iota + 1
	// identity: the name containers are matched by; it never differs
	// within a pair.
	identity
	// resources: cpu and memory changes may be taken live (resizable).
	resources
	// ports: restart, unless a hostPort changes, which reaches the pod's
	// forwarding rules.
	ports
	// security: restart, unless privileged changes: the device access of
	// the container's cgroup is set once, when the pod is made.
	security
)

// containerFields classifies every field of manifests.Container by its
// JSON name. Volume mounts restart the container: the volumes they name
// are compared as pod-level. A field missing here restarts the container
// (the safe side, for a container-scoped field), and
// TestEveryContainerFieldIsClassified fails for it.
var containerFields = map[string]containerField{
	"name":                     identity,
	"image":                    restart,
	"imagePullPolicy":          restart,
	"command":                  restart,
	"args":                     restart,
	"workingDir":               restart,
	"ports":                    ports,
	"envFrom":                  restart,
	"env":                      restart,
	"resources":                resources,
	"resizePolicy":             restart,
	"volumeMounts":             restart,
	"livenessProbe":            restart,
	"readinessProbe":           restart,
	"startupProbe":             restart,
	"lifecycle":                restart,
	"restartPolicy":            restart, // init containers only, compared as pod-level
	"terminationMessagePath":   restart,
	"terminationMessagePolicy": restart,
	"securityContext":          security,
	"stdin":                    restart,
	"stdinOnce":                restart,
	"tty":                      restart,
}

// DiffSpec compares the pod that runs (old) with the one the manifest
// asks for (new), field by field on defaulted copies, and classifies the
// difference. It never hashes: a hash of Go structs changes when berth
// gains a field, and the kubelet once restarted every container on
// upgrades for that reason. Should a copy fail, it answers ScopePod with
// the path "spec" (replacing is always correct).
func DiffSpec(old, new *manifests.Pod) Change {
	c := diffMetadata(old, new)
	o, errO := defaultedCopy(old)
	n, errN := defaultedCopy(new)
	if errO != nil || errN != nil {
		c.Scope, c.Pod = ScopePod, []string{"spec"}
		return c
	}
	ov, nv := reflect.ValueOf(o.Spec), reflect.ValueOf(n.Spec)
	for i, f := range structFields(ov.Type()) {
		if reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		if podSpecFields[f] == perContainer {
			diffContainers(&c, o.Spec.Containers, n.Spec.Containers)
			continue
		}
		c.Pod = append(c.Pod, elementPaths("spec."+f, ov.Field(i), nv.Field(i))...)
	}
	if c.Scope < ScopeContainers && len(c.Containers) > 0 {
		c.Scope = ScopeContainers
	}
	// A resize never changes the QoS class in Kubernetes; berth runs a
	// pod's cgroups and oom_score_adj by it.
	if from, to := manifests.QOSClass(&o.Spec), manifests.QOSClass(&n.Spec); c.Scope == ScopeContainers && from != to {
		c.Why = append(c.Why, fmt.Sprintf("the QoS class changes from %s to %s", from, to))
	}
	if len(c.Pod) > 0 || len(c.Why) > 0 {
		c.Scope = ScopePod
	}
	return c
}

// diffMetadata is the change of labels and annotations alone.
func diffMetadata(old, new *manifests.Pod) Change {
	var c Change
	if !maps.Equal(old.Labels, new.Labels) {
		c.Metadata = append(c.Metadata, "metadata.labels")
	}
	if !maps.Equal(old.Annotations, new.Annotations) {
		c.Metadata = append(c.Metadata, "metadata.annotations")
	}
	if len(c.Metadata) > 0 {
		c.Scope = ScopeMetadata
	}
	return c
}

func defaultedCopy(p *manifests.Pod) (*manifests.Pod, error) {
	c, err := p.DeepCopy()
	if err != nil {
		return nil, err
	}
	manifests.SetDefaults(c)
	return c, nil
}

// structFields are the JSON names of t's fields, by field index.
func structFields(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range t.NumField() {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return names
}

// diffContainers compares the containers by name. Adding, removing or
// reordering containers reaches the pod (its start order and the infra's
// set of containers).
func diffContainers(c *Change, old, new []manifests.Container) {
	names := func(cs []manifests.Container) []string {
		out := make([]string, len(cs))
		for i, ct := range cs {
			out[i] = ct.Name
		}
		return out
	}
	on, nn := names(old), names(new)
	for _, n := range nn {
		if !slices.Contains(on, n) {
			c.Pod = append(c.Pod, containerPath(n))
			c.Why = append(c.Why, "container "+n+" added")
		}
	}
	for _, n := range on {
		if !slices.Contains(nn, n) {
			c.Pod = append(c.Pod, containerPath(n))
			c.Why = append(c.Why, "container "+n+" removed")
		}
	}
	if len(c.Pod) == 0 && !slices.Equal(on, nn) {
		c.Pod = append(c.Pod, "spec.containers")
		c.Why = append(c.Why, "containers reordered")
	}
	for _, nc := range new {
		i := slices.Index(on, nc.Name)
		if i < 0 {
			continue
		}
		if cc, ok := diffContainer(c, &old[i], &nc); ok {
			c.Containers = append(c.Containers, cc)
		}
	}
}

func containerPath(name string) string { return "spec.containers[name=" + name + "]" }

// diffContainer compares two versions of one container, noting in c a
// difference that reaches the pod.
func diffContainer(c *Change, old, new *manifests.Container) (ContainerChange, bool) {
	cc := ContainerChange{Name: new.Name, Live: true}
	base := containerPath(new.Name)
	ov, nv := reflect.ValueOf(*old), reflect.ValueOf(*new)
	for i, f := range structFields(ov.Type()) {
		if reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		path := base + "." + f
		switch containerFields[f] {
		case resources:
			paths, live := diffResources(path, old, new)
			cc.Fields = append(cc.Fields, paths...)
			cc.Live = cc.Live && live
			continue
		case ports:
			if hostPorts(old.Ports) != hostPorts(new.Ports) {
				c.Pod = append(c.Pod, elementPaths(path, ov.Field(i), nv.Field(i))...)
				c.Why = append(c.Why, "a hostPort of container "+new.Name+" changed")
				continue
			}
		case security:
			if privileged(old) != privileged(new) {
				c.Pod = append(c.Pod, path+".privileged")
				c.Why = append(c.Why, "container "+new.Name+" becomes privileged or stops being so (its cgroup's device access is set when it is made)")
				continue
			}
		}
		cc.Fields = append(cc.Fields, elementPaths(path, ov.Field(i), nv.Field(i))...)
		cc.Live = false
	}
	return cc, len(cc.Fields) > 0
}

// elementPaths refines the path of a field that differs when it is a
// list of named elements (volumes, env, init containers...): the
// elements removed or changed, then those added, as path[name=X]. It
// answers the path itself for any other field, and for a list whose names
// cannot identify its elements (one empty or repeated) or whose elements
// were reordered.
func elementPaths(path string, old, new reflect.Value) []string {
	on, okO := elementNames(old)
	nn, okN := elementNames(new)
	if !okO || !okN {
		return []string{path}
	}
	kept := func(a, b []string) []string {
		return slices.DeleteFunc(slices.Clone(a), func(n string) bool { return !slices.Contains(b, n) })
	}
	if !slices.Equal(kept(on, nn), kept(nn, on)) {
		return []string{path}
	}
	var out []string
	for i, n := range on {
		j := slices.Index(nn, n)
		if j < 0 || !reflect.DeepEqual(old.Index(i).Interface(), new.Index(j).Interface()) {
			out = append(out, path+"[name="+n+"]")
		}
	}
	for _, n := range nn {
		if !slices.Contains(on, n) {
			out = append(out, path+"[name="+n+"]")
		}
	}
	return out
}

// elementNames are the Name fields of a list of structs, if every element
// has a distinct, non-empty one.
func elementNames(v reflect.Value) ([]string, bool) {
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Struct {
		return nil, false
	}
	f, ok := v.Type().Elem().FieldByName("Name")
	if !ok || f.Type.Kind() != reflect.String {
		return nil, false
	}
	names := make([]string, v.Len())
	for i := range v.Len() {
		names[i] = v.Index(i).FieldByIndex(f.Index).String()
		if names[i] == "" || slices.Contains(names[:i], names[i]) {
			return nil, false
		}
	}
	return names, true
}

// hostPorts renders the ports that are published on the host.
func hostPorts(ps []manifests.ContainerPort) string {
	var b strings.Builder
	for _, p := range ps {
		if p.HostPort != 0 {
			fmt.Fprintf(&b, "%s:%d:%d/%s;", p.HostIP, p.HostPort, p.ContainerPort, p.Protocol)
		}
	}
	return b.String()
}

func privileged(c *manifests.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// diffResources lists the resources that differ, as
// "<path>.limits.memory", and whether the running container can take
// them all live: cpu and memory values changed (not added or removed,
// which changes what the cgroup enforces at all), whose resizePolicy is
// NotRequired (the default), and no memory limit lowered below what the
// container may already use.
func diffResources(path string, old, new *manifests.Container) ([]string, bool) {
	var paths []string
	live := true
	for _, kind := range []struct {
		name     string
		old, new map[string]manifests.Quantity
	}{
		{"limits", old.Resources.Limits, new.Resources.Limits},
		{"requests", old.Resources.Requests, new.Resources.Requests},
	} {
		for _, r := range slices.Sorted(maps.Keys(union(kind.old, kind.new))) {
			o, inOld := kind.old[r]
			n, inNew := kind.new[r]
			if inOld && inNew && o == n {
				continue
			}
			paths = append(paths, path+"."+kind.name+"."+r)
			switch {
			case r != "cpu" && r != "memory", !inOld || !inNew:
				live = false
			case resizePolicy(new, r) != "NotRequired":
				live = false
			case r == "memory" && kind.name == "limits" && n.Cmp(o) < 0:
				live = false
			}
		}
	}
	return paths, live
}

func union[V any](a, b map[string]V) map[string]V {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, b)
	return out
}

// resizePolicy is the container's restart policy for resizing resource r,
// NotRequired unless it says otherwise (Kubernetes' default).
func resizePolicy(c *manifests.Container, r string) string {
	for _, p := range c.ResizePolicy {
		if p.ResourceName == r && p.RestartPolicy != "" {
			return p.RestartPolicy
		}
	}
	return "NotRequired"
}
