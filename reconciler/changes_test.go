package reconciler

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/manifests"
)

// TestEveryPodFieldIsClassified fails for a field of manifests.PodSpec
// that podSpecFields does not classify, so that a new field is decided
// (pod-level, or compared container by container) rather than silently
// compared as pod-level, and for rows that name no field.
func TestEveryPodFieldIsClassified(t *testing.T) {
	checkClassified(t, reflect.TypeFor[manifests.PodSpec](), podSpecFields, "podSpecFields")
}

// TestEveryContainerFieldIsClassified is the same for manifests.Container
// and containerFields.
func TestEveryContainerFieldIsClassified(t *testing.T) {
	checkClassified(t, reflect.TypeFor[manifests.Container](), containerFields, "containerFields")
}

func checkClassified[V comparable](t *testing.T, typ reflect.Type, table map[string]V, tableName string) {
	t.Helper()
	var zero V
	names := structFields(typ)
	for i, name := range names {
		f := typ.Field(i)
		if f.Anonymous || name == "" || name == "-" {
			t.Errorf("%s.%s has no JSON name of its own: DiffSpec compares fields by name, teach it this one", typ.Name(), f.Name)
			continue
		}
		if c, ok := table[name]; !ok || c == zero {
			t.Errorf("%s.%s (json %q) is not classified: add it to %s in changes.go (does changing it reach the pod, or only the container?)",
				typ.Name(), f.Name, name, tableName)
		}
	}
	for name := range table {
		if !slices.Contains(names, name) {
			t.Errorf("%s row %q matches no field of %s: remove it", tableName, name, typ.Name())
		}
	}
}

func diffPod(name string) *manifests.Pod {
	p := &manifests.Pod{}
	p.Kind, p.APIVersion = "Pod", "v1"
	p.Name, p.Namespace = name, "default"
	p.Spec.Containers = []manifests.Container{
		{Name: "web", Image: "demo:1", Resources: manifests.ResourceRequirements{
			Limits: map[string]manifests.Quantity{"cpu": q("500m"), "memory": q("64Mi")},
		}},
		{Name: "side", Image: "demo:1", Ports: []manifests.ContainerPort{{ContainerPort: 80}}},
	}
	p.Spec.Volumes = []manifests.Volume{{Name: "data", EmptyDir: &manifests.EmptyDirVolumeSource{}}}
	return p
}

// withResizePolicy sets the web container's resizePolicy for one resource.
func withResizePolicy(resource, policy string) func(p *manifests.Pod) {
	return func(p *manifests.Pod) {
		p.Spec.Containers[0].ResizePolicy = []manifests.ContainerResizePolicy{{ResourceName: resource, RestartPolicy: policy}}
	}
}

// withEnv sets the web container's env.
func withEnv(env ...manifests.EnvVar) func(p *manifests.Pod) {
	return func(p *manifests.Pod) { p.Spec.Containers[0].Env = env }
}

func q(s string) manifests.Quantity { return manifests.MustParseQuantity(s) }

func TestDiffSpec(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(p *manifests.Pod)
		scope    Scope
		restarts []string
		resizes  []string
		fields   []string
		why      string
		both     func(p *manifests.Pod) // applied to both versions first
	}{
		{name: "same", edit: func(*manifests.Pod) {}, scope: ScopeNone},
		{name: "spelled-out default", scope: ScopeNone,
			edit: func(p *manifests.Pod) { p.Spec.RestartPolicy = "Always" }},
		{name: "label", scope: ScopeMetadata, fields: []string{"metadata.labels"},
			edit: func(p *manifests.Pod) { p.Labels = map[string]string{"a": "b"} }},
		{name: "annotation", scope: ScopeMetadata, fields: []string{"metadata.annotations"},
			edit: func(p *manifests.Pod) { p.Annotations = map[string]string{"a": "b"} }},
		{name: "image of one container", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].image"},
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Image = "demo:2" }},
		{name: "env and args of two containers", scope: ScopeContainers, restarts: []string{"web", "side"},
			fields: []string{"spec.containers[name=web].args", "spec.containers[name=web].env[name=A]", "spec.containers[name=side].env[name=B]"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].Args = []string{"-v"}
				p.Spec.Containers[0].Env = []manifests.EnvVar{{Name: "A", Value: "1"}}
				p.Spec.Containers[1].Env = []manifests.EnvVar{{Name: "B", Value: "2"}}
			}},
		{name: "env changed and removed, by name", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].env[name=A]", "spec.containers[name=web].env[name=B]"},
			both:   withEnv(manifests.EnvVar{Name: "A", Value: "1"}, manifests.EnvVar{Name: "B", Value: "2"}),
			edit:   withEnv(manifests.EnvVar{Name: "A", Value: "3"})},
		{name: "env added after the others, by name", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].env[name=C]"},
			both:   withEnv(manifests.EnvVar{Name: "A", Value: "1"}, manifests.EnvVar{Name: "B", Value: "2"}),
			edit:   withEnv(manifests.EnvVar{Name: "A", Value: "1"}, manifests.EnvVar{Name: "B", Value: "2"}, manifests.EnvVar{Name: "C"})},
		{name: "env reordered names the list", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].env"},
			both:   withEnv(manifests.EnvVar{Name: "A", Value: "1"}, manifests.EnvVar{Name: "B", Value: "2"}),
			edit:   withEnv(manifests.EnvVar{Name: "B", Value: "2"}, manifests.EnvVar{Name: "A", Value: "1"})},
		{name: "env with a repeated name names the list", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].env"},
			edit:   withEnv(manifests.EnvVar{Name: "A", Value: "1"}, manifests.EnvVar{Name: "A", Value: "2"})},
		{name: "label and image", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"metadata.labels", "spec.containers[name=web].image"},
			edit: func(p *manifests.Pod) {
				p.Labels = map[string]string{"a": "b"}
				p.Spec.Containers[0].Image = "demo:2"
			}},
		{name: "cpu limit resizes live", scope: ScopeContainers, resizes: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.cpu"},
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["cpu"] = q("1") }},
		{name: "memory limit raised resizes live", scope: ScopeContainers, resizes: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.memory"},
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = q("128Mi") }},
		{name: "memory limit lowered restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.memory"},
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = q("32Mi") }},
		{name: "memory written differently is a change", scope: ScopeContainers, resizes: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.memory"},
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = q("65536Ki") }},
		{name: "resizePolicy RestartContainer restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.cpu"},
			both:   withResizePolicy("cpu", "RestartContainer"),
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["cpu"] = q("1") }},
		{name: "resizePolicy RestartContainer for memory leaves cpu live", scope: ScopeContainers, resizes: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.cpu"},
			both:   withResizePolicy("memory", "RestartContainer"),
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["cpu"] = q("1") }},
		{name: "resizePolicy NotRequired written out resizes live", scope: ScopeContainers, resizes: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.memory"},
			both:   withResizePolicy("memory", "NotRequired"),
			edit:   func(p *manifests.Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = q("128Mi") }},
		{name: "resizePolicy itself restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].resizePolicy"},
			edit:   withResizePolicy("cpu", "RestartContainer")},
		{name: "cpu request added restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.requests.cpu"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].Resources.Requests = map[string]manifests.Quantity{"cpu": q("100m")}
			}},
		{name: "ephemeral-storage request restarts", scope: ScopeContainers, restarts: []string{"side"},
			fields: []string{"spec.containers[name=side].resources.requests.ephemeral-storage"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[1].Resources.Requests = map[string]manifests.Quantity{"ephemeral-storage": q("1Gi")}
			}},
		{name: "resize and image in one container restarts it", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].image", "spec.containers[name=web].resources.limits.cpu"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].Image = "demo:2"
				p.Spec.Containers[0].Resources.Limits["cpu"] = q("1")
			}},
		{name: "resize one, restart the other", scope: ScopeContainers, restarts: []string{"side"}, resizes: []string{"web"},
			fields: []string{"spec.containers[name=web].resources.limits.cpu", "spec.containers[name=side].command"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].Resources.Limits["cpu"] = q("1")
				p.Spec.Containers[1].Command = []string{"/demo"}
			}},
		{name: "QoS class change reaches the pod", scope: ScopePod,
			fields: []string{"spec.containers[name=web].resources.limits.cpu",
				"spec.containers[name=side].resources.limits.cpu", "spec.containers[name=side].resources.limits.memory"},
			why: "the QoS class changes from Burstable to Guaranteed",
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].Resources.Limits["cpu"] = q("1")
				p.Spec.Containers[1].Resources.Limits = map[string]manifests.Quantity{"cpu": q("1"), "memory": q("1Gi")}
			}},
		{name: "container port without hostPort restarts", scope: ScopeContainers, restarts: []string{"side"},
			fields: []string{"spec.containers[name=side].ports"},
			edit:   func(p *manifests.Pod) { p.Spec.Containers[1].Ports[0].ContainerPort = 81 }},
		{name: "hostPort reaches the pod", scope: ScopePod,
			fields: []string{"spec.containers[name=side].ports"}, why: "a hostPort of container side changed",
			edit: func(p *manifests.Pod) { p.Spec.Containers[1].Ports[0].HostPort = 8080 }},
		{name: "volume mount of an existing volume restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].volumeMounts[name=data]"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].VolumeMounts = []manifests.VolumeMount{{Name: "data", MountPath: "/data"}}
			}},
		{name: "volume added with its mount replaces", scope: ScopePod,
			fields: []string{"spec.volumes[name=more]", "spec.containers[name=web].volumeMounts[name=more]"},
			edit: func(p *manifests.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, manifests.Volume{Name: "more", EmptyDir: &manifests.EmptyDirVolumeSource{}})
				p.Spec.Containers[0].VolumeMounts = []manifests.VolumeMount{{Name: "more", MountPath: "/more"}}
			}},
		{name: "container security context restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].securityContext"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].SecurityContext = &manifests.SecurityContext{RunAsUser: new(int64(1000))}
			}},
		{name: "privileged reaches the pod", scope: ScopePod,
			fields: []string{"spec.containers[name=web].securityContext.privileged"},
			why:    "container web becomes privileged or stops being so (its cgroup's device access is set when it is made)",
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].SecurityContext = &manifests.SecurityContext{Privileged: new(true)}
			}},
		{name: "privileged false written out restarts", scope: ScopeContainers, restarts: []string{"web"},
			fields: []string{"spec.containers[name=web].securityContext"},
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0].SecurityContext = &manifests.SecurityContext{Privileged: new(false)}
			}},
		// hostNetwork defaults every hostPort to its containerPort.
		{name: "hostNetwork replaces", scope: ScopePod,
			fields: []string{"spec.containers[name=side].ports", "spec.hostNetwork"}, why: "a hostPort of container side changed",
			edit: func(p *manifests.Pod) { p.Spec.HostNetwork = true }},
		{name: "pod security context replaces", scope: ScopePod, fields: []string{"spec.securityContext"},
			edit: func(p *manifests.Pod) {
				p.Spec.SecurityContext = &manifests.PodSecurityContext{FSGroup: new(int64(2000))}
			}},
		{name: "shareProcessNamespace replaces", scope: ScopePod, fields: []string{"spec.shareProcessNamespace"},
			edit: func(p *manifests.Pod) { p.Spec.ShareProcessNamespace = new(true) }},
		{name: "dnsConfig replaces", scope: ScopePod, fields: []string{"spec.dnsConfig"},
			edit: func(p *manifests.Pod) { p.Spec.DNSConfig = &manifests.PodDNSConfig{Searches: []string{"x"}} }},
		{name: "hostAliases replaces", scope: ScopePod, fields: []string{"spec.hostAliases"},
			edit: func(p *manifests.Pod) {
				p.Spec.HostAliases = []manifests.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"a"}}}
			}},
		{name: "restartPolicy replaces", scope: ScopePod, fields: []string{"spec.restartPolicy"},
			edit: func(p *manifests.Pod) { p.Spec.RestartPolicy = "Never" }},
		{name: "init container replaces", scope: ScopePod, fields: []string{"spec.initContainers[name=init]"},
			edit: func(p *manifests.Pod) {
				p.Spec.InitContainers = []manifests.Container{{Name: "init", Image: "demo:1"}}
			}},
		{name: "container added replaces", scope: ScopePod, fields: []string{"spec.containers[name=new]"},
			why: "container new added",
			edit: func(p *manifests.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, manifests.Container{Name: "new", Image: "demo:1"})
			}},
		{name: "container removed replaces", scope: ScopePod, fields: []string{"spec.containers[name=side]"},
			why:  "container side removed",
			edit: func(p *manifests.Pod) { p.Spec.Containers = p.Spec.Containers[:1] }},
		{name: "containers reordered replaces", scope: ScopePod, fields: []string{"spec.containers"},
			why: "containers reordered",
			edit: func(p *manifests.Pod) {
				p.Spec.Containers[0], p.Spec.Containers[1] = p.Spec.Containers[1], p.Spec.Containers[0]
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, edited := diffPod("web"), diffPod("web")
			if tt.both != nil {
				tt.both(old)
				tt.both(edited)
			}
			tt.edit(edited)
			c := DiffSpec(old, edited)
			if c.Scope != tt.scope {
				t.Errorf("scope %s, want %s (%+v)", c.Scope, tt.scope, c)
			}
			if got := c.Fields(); !slices.Equal(got, tt.fields) {
				t.Errorf("fields %q, want %q", got, tt.fields)
			}
			if tt.scope == ScopeContainers {
				if got := c.Restarts(); !slices.Equal(got, tt.restarts) {
					t.Errorf("restarts %q, want %q", got, tt.restarts)
				}
				if got := c.Resizes(); !slices.Equal(got, tt.resizes) {
					t.Errorf("resizes %q, want %q", got, tt.resizes)
				}
			}
			if got := strings.Join(c.Why, "; "); got != tt.why {
				t.Errorf("why %q, want %q", got, tt.why)
			}
			if again := DiffSpec(old, edited); !reflect.DeepEqual(again, c) {
				t.Errorf("DiffSpec is not deterministic or changed its arguments: %+v, then %+v", c, again)
			}
			if (c.Scope >= ScopeContainers) == manifests.SpecEqual(old, edited) {
				t.Errorf("scope %s disagrees with SpecEqual = %v", c.Scope, manifests.SpecEqual(old, edited))
			}
		})
	}
}

// TestDiffSpecEveryFieldIsSeen sets every field of PodSpec and Container
// in turn (through the reflection walk) and checks that DiffSpec reports
// a change of the expected scope naming that field: a field the tables
// classify but the comparison skipped would fail here.
func TestDiffSpecEveryFieldIsSeen(t *testing.T) {
	podT := reflect.TypeFor[manifests.PodSpec]()
	for i, name := range structFields(podT) {
		if name == "containers" {
			continue
		}
		p := diffPod("web")
		setNonZero(t, reflect.ValueOf(&p.Spec).Elem().Field(i))
		c := DiffSpec(diffPod("web"), p)
		if c.Scope != ScopePod || !slices.ContainsFunc(c.Pod, func(f string) bool { return strings.HasPrefix(f, "spec."+name) }) {
			t.Errorf("spec.%s set: scope %s, pod fields %q; want pod scope naming it", name, c.Scope, c.Pod)
		}
	}
	ctrT := reflect.TypeFor[manifests.Container]()
	for i, name := range structFields(ctrT) {
		if containerFields[name] == identity {
			continue
		}
		p := diffPod("web")
		setNonZero(t, reflect.ValueOf(&p.Spec.Containers[1]).Elem().Field(i))
		c := DiffSpec(diffPod("web"), p)
		path := "spec.containers[name=side]." + name
		if c.Scope != ScopeContainers || !slices.Equal(c.Restarts(), []string{"side"}) ||
			!slices.ContainsFunc(c.Fields(), func(f string) bool { return strings.HasPrefix(f, path) }) {
			t.Errorf("%s set: %+v; want container side restarted, naming it", path, c)
		}
	}
}

// setNonZero gives v a value that differs from the base pod's and
// survives defaulting.
func setNonZero(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("Never-" + v.String())
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Pointer:
		n := reflect.New(v.Type().Elem())
		setNonZero(t, n.Elem())
		v.Set(n)
	case reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 7)
	case reflect.Slice:
		n := reflect.MakeSlice(v.Type(), 1, 1)
		setNonZero(t, n.Index(0))
		v.Set(reflect.AppendSlice(n, v))
	case reflect.Map:
		n := reflect.MakeMap(v.Type())
		n.SetMapIndex(reflect.ValueOf("ephemeral-storage"), reflect.ValueOf(q("1Gi")))
		v.Set(n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[manifests.ResourceRequirements]() {
			setNonZero(t, v.FieldByName("Requests"))
			return
		}
		f := v.Field(0)
		for i := 0; i < v.NumField() && !f.CanSet(); i++ {
			f = v.Field(i)
		}
		setNonZero(t, f)
	default:
		t.Fatalf("setNonZero: no value for %s", v.Type())
	}
}
