package manifests

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestExplainExamples(t *testing.T) {
	for _, tt := range []struct {
		path, canon string
		want        Support
	}{
		{"spec.containers.livenessProbe", "spec.containers[].livenessProbe", Implemented},
		{"spec.containers[].livenessProbe.httpGet.port", "spec.containers[].livenessProbe.httpGet.port", Implemented},
		{"spec.initContainers[0].image", "spec.initContainers[].image", Implemented},
		{"spec.volumes.persistentVolumeClaim", "spec.volumes[].persistentVolumeClaim", Implemented},
		{"metadata.labels", "metadata.labels", Implemented},
		{"pod.spec.hostNetwork", "spec.hostNetwork", Implemented},
		{"kind", "kind", Implemented},
		{"spec.securityContext.sysctls", "spec.securityContext.sysctls", Implemented},
		{"spec.containers.resources.limits", "spec.containers[].resources.limits", Partly},
		{"spec.containers.lifecycle", "spec.containers[].lifecycle", Implemented},
		{"spec.containers.lifecycle.preStop.tcpSocket", "spec.containers[].lifecycle.preStop.tcpSocket", NotSupported},
		{"spec.initContainers.lifecycle.postStart", "spec.initContainers[].lifecycle.postStart", Implemented},
		{"spec.initContainers.lifecycle.preStop.tcpSocket", "spec.initContainers[].lifecycle.preStop.tcpSocket", NotSupported},
		{"spec.volumes.nfs.server", "spec.volumes[].nfs", NotSupported},
		{"spec.nodeSelector", "spec.nodeSelector", ClusterOnly},
		{"metadata.generateName", "metadata.generateName", NotAllowed},
	} {
		v, err := Explain(tt.path)
		if err != nil {
			t.Errorf("Explain(%q): %v", tt.path, err)
			continue
		}
		if v.Path != tt.canon || v.Support != tt.want {
			t.Errorf("Explain(%q) = %q %v, want %q %v", tt.path, v.Path, v.Support, tt.canon, tt.want)
		}
		if (v.Message == "") != (tt.want == Implemented) {
			t.Errorf("Explain(%q) message %q", tt.path, v.Message)
		}
	}
	for _, p := range []string{"", "spec.containerz", "spec..name", "spec.containers[0.name", "metadata.labels.app", "nonsense"} {
		if v, err := Explain(p); !errors.Is(err, ErrUnknownField) {
			t.Errorf("Explain(%q) = %+v, %v; want ErrUnknownField", p, v, err)
		}
	}
}

// refusedValues are values validation refuses for the unsupported fields
// types.go models (the others are refused whatever their value).
var refusedValues = map[ownerField]any{
	{typeOf[PodOS](), "name"}:                        "windows",
	{typeOf[PodSecurityContext](), "seLinuxOptions"}: map[string]any{"type": "spc_t"},
	{typeOf[LifecycleHandler](), "tcpSocket"}:        map[string]any{"port": 80},
	{typeOf[Container](), "resizePolicy"}:            []any{map[string]any{"resourceName": "cpu", "restartPolicy": "NotRequired"}},
	{typeOf[ResourceRequirements](), "limits"}:       map[string]any{"nvidia.com/gpu": "1"},
	{typeOf[ResourceRequirements](), "requests"}:     map[string]any{"nvidia.com/gpu": "1"},
	{typeOf[SecurityContext](), "procMount"}:         "Unmasked",
	{typeOf[SecurityContext](), "seLinuxOptions"}:    map[string]any{"type": "spc_t"},
	{typeOf[AppArmorProfile](), "type"}:              "RuntimeDefault",
	{typeOf[ContainerPort](), "protocol"}:            "SCTP",
	{typeOf[EmptyDirVolumeSource](), "medium"}:       "HugePages-2Mi",
}

// notPodTypes own table rows that belong to other kinds of document.
var notPodTypes = []reflect.Type{typeOf[ConfigMap](), typeOf[Secret](), typeOf[PersistentVolumeClaim](),
	typeOf[PersistentVolumeClaimSpec](), typeOf[VolumeResourceRequirements]()}

// TestExplainAgreesWithValidation sets every field of the unsupported and
// cluster-only tables in an otherwise valid pod and checks that validation
// reports what Explain says.
func TestExplainAgreesWithValidation(t *testing.T) {
	paths := typePaths()
	var rows []ownerField
	for _, u := range unsupported {
		rows = append(rows, ownerField{u.owner, u.field})
	}
	for k := range clusterOnlyFields {
		rows = append(rows, k)
	}
	tested := 0
	for _, row := range rows {
		base, ok := paths[row.owner]
		if !ok {
			if !contains(notPodTypes, row.owner) {
				t.Errorf("%s.%s: owner not reachable from Pod", row.owner.Name(), row.field)
			}
			continue
		}
		path := joinField(base, row.field)
		v, err := Explain(path)
		if err != nil {
			t.Errorf("Explain(%q): %v", path, err)
			continue
		}
		_, modelled := fieldsOf(row.owner)[row.field]
		value := any("x")
		if modelled {
			if value, ok = refusedValues[row]; !ok {
				t.Errorf("%s: add a value validation refuses to refusedValues", path)
				continue
			}
		}
		doc, concrete := podWith(t, path, value)
		tested++
		var got []Problem
		for _, p := range Parse("pod.yaml", doc).Problems() {
			if p.Path == concrete || strings.HasPrefix(p.Path, concrete+"[") {
				got = append(got, p)
			}
		}
		if len(got) != 1 {
			t.Errorf("%s: validation reported %v, want one problem\n%s", path, got, doc)
			continue
		}
		want := map[Support]Severity{NotSupported: Unsupported, Partly: Unsupported, ClusterOnly: Warning, NotAllowed: Error}
		sev, ok := want[v.Support]
		switch {
		case !ok || got[0].Severity != sev:
			t.Errorf("%s: Explain says %v, validation %v: %s", path, v.Support, got[0].Severity, got[0].Message)
		case v.Support == Partly:
			if _, detail, _ := strings.Cut(v.Message, " by berth"); !strings.HasSuffix(got[0].Message, " by berth"+detail) {
				t.Errorf("%s: Explain %q, validation %q", path, v.Message, got[0].Message)
			}
		case got[0].Message != v.Message:
			t.Errorf("%s: Explain %q, validation %q", path, v.Message, got[0].Message)
		}
	}
	if tested < len(unsupported) {
		t.Errorf("tested %d rows, want at least %d", tested, len(unsupported))
	}
}

func contains(ts []reflect.Type, t reflect.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// typePaths maps every struct type reachable from Pod to the shortest
// field path that reaches it.
func typePaths() map[reflect.Type]string {
	paths := map[reflect.Type]string{typeOf[Pod](): ""}
	queue := []reflect.Type{typeOf[Pod]()}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for name, idx := range fieldsOf(t) {
			ft := elem(t.FieldByIndex(idx).Type)
			if ft.Kind() != reflect.Struct {
				continue
			}
			if _, seen := paths[ft]; !seen {
				paths[ft] = joinField(paths[t], name)
				queue = append(queue, ft)
			}
		}
	}
	return paths
}

// listItems are the first elements of the lists podWith creates.
var listItems = map[string]map[string]any{
	"volumes": {"name": "v"},
	"ports":   {"containerPort": 80},
}

// podWith returns a valid pod with value set at path, and the path with
// list indexes as validation reports it.
func podWith(t *testing.T, path string, value any) ([]byte, string) {
	t.Helper()
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}},
	}
	segs := strings.Split(path, ".")
	m, typ, concrete := pod, typeOf[Pod](), ""
	for i, name := range segs {
		concrete = joinField(concrete, name)
		if i == len(segs)-1 {
			m[name] = value
			break
		}
		ft := typ.FieldByIndex(fieldsOf(typ)[name]).Type
		typ = elem(ft)
		if ft.Kind() == reflect.Slice {
			list, _ := m[name].([]any)
			if len(list) == 0 {
				item := map[string]any{}
				for k, v := range listItems[name] {
					item[k] = v
				}
				list = []any{item}
				m[name] = list
			}
			m = list[0].(map[string]any)
			concrete += "[0]"
			continue
		}
		next, ok := m[name].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[name] = next
		}
		m = next
	}
	data, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return data, concrete
}
