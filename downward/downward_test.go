package downward

import (
	"errors"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func q(s string) manifests.Quantity { return manifests.MustParseQuantity(s) }

func qp(s string) *manifests.Quantity {
	v := q(s)
	return &v
}

func TestFormatMap(t *testing.T) {
	tests := []struct {
		m    map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"app": "web"}, `app="web"`},
		{map[string]string{"tier": "front", "app": "web", "note": "a \"b\"\nc"}, "app=\"web\"\nnote=\"a \\\"b\\\"\\nc\"\ntier=\"front\""},
	}
	for _, tt := range tests {
		if got := FormatMap(tt.m); got != tt.want {
			t.Errorf("FormatMap(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestVolumeField(t *testing.T) {
	p := Pod{UID: "u-1", Pod: &manifests.Pod{ObjectMeta: manifests.ObjectMeta{
		Name: "web", Namespace: "shop",
		Labels:      map[string]string{"app": "web", "tier": "front"},
		Annotations: map[string]string{"example.com/build": "42"},
	}}}
	tests := []struct {
		path, want string
		wantErr    bool
	}{
		{path: "metadata.name", want: "web"},
		{path: "metadata.namespace", want: "shop"},
		{path: "metadata.uid", want: "u-1"},
		{path: "metadata.labels", want: "app=\"web\"\ntier=\"front\""},
		{path: "metadata.annotations", want: `example.com/build="42"`},
		{path: "metadata.labels['tier']", want: "front"},
		{path: "metadata.annotations['example.com/build']", want: "42"},
		{path: "metadata.labels['missing']", want: ""},
		{path: "status.podIP", wantErr: true},
		{path: "spec.nodeName", wantErr: true},
	}
	for _, tt := range tests {
		got, err := VolumeField(p, tt.path)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("VolumeField(%q) error = %v, want ErrInvalid", tt.path, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("VolumeField(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestResource(t *testing.T) {
	pod := &manifests.Pod{Spec: manifests.PodSpec{
		InitContainers: []manifests.Container{{Name: "setup"}},
		Containers: []manifests.Container{
			{Name: "app", Resources: manifests.ResourceRequirements{
				Limits:   map[string]manifests.Quantity{"cpu": q("500m"), "memory": q("128Mi"), "ephemeral-storage": q("1Gi")},
				Requests: map[string]manifests.Quantity{"cpu": q("250m"), "memory": q("64Mi")},
			}},
			{Name: "limited", Resources: manifests.ResourceRequirements{
				Limits: map[string]manifests.Quantity{"cpu": q("1500m"), "memory": q("100M")},
			}},
		},
	}}
	p := Pod{Pod: pod, Node: Node{MilliCPU: 4000, Memory: 8 << 30, EphemeralStorage: 100 << 30}}
	tests := []struct {
		name, ctr, resource string
		divisor             *manifests.Quantity
		want                string
		wantErr             bool
	}{
		{name: "cpu limit in cores rounds up", ctr: "app", resource: "limits.cpu", want: "1"},
		{name: "cpu limit in millicores", ctr: "app", resource: "limits.cpu", divisor: qp("1m"), want: "500"},
		{name: "cpu request", ctr: "app", resource: "requests.cpu", divisor: qp("1m"), want: "250"},
		{name: "memory limit in bytes", ctr: "app", resource: "limits.memory", want: "134217728"},
		{name: "memory limit in Mi", ctr: "app", resource: "limits.memory", divisor: qp("1Mi"), want: "128"},
		{name: "memory request in Mi", ctr: "app", resource: "requests.memory", divisor: qp("1Mi"), want: "64"},
		{name: "memory in a unit that does not divide it rounds up", ctr: "limited", resource: "limits.memory", divisor: qp("1Mi"), want: "96"},
		{name: "ephemeral-storage limit", ctr: "app", resource: "limits.ephemeral-storage", divisor: qp("1Gi"), want: "1"},
		{name: "a zero divisor is 1", ctr: "app", resource: "limits.cpu", divisor: qp("0"), want: "1"},
		{name: "missing cpu limit is the node's", ctr: "setup", resource: "limits.cpu", divisor: qp("1m"), want: "4000"},
		{name: "missing memory limit is the node's", ctr: "setup", resource: "limits.memory", divisor: qp("1Gi"), want: "8"},
		{name: "missing storage limit is the node's", ctr: "app", resource: "limits.ephemeral-storage", want: "1073741824"},
		{name: "missing storage limit of another", ctr: "limited", resource: "limits.ephemeral-storage", divisor: qp("1Gi"), want: "100"},
		{name: "missing request is the limit", ctr: "limited", resource: "requests.cpu", divisor: qp("1m"), want: "1500"},
		{name: "no request nor limit is 0", ctr: "setup", resource: "requests.memory", want: "0"},
		{name: "unknown container", ctr: "nope", resource: "limits.cpu", wantErr: true},
		{name: "unknown resource", ctr: "app", resource: "limits.hugepages-2Mi", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resource(p, tt.ctr, &manifests.ResourceFieldSelector{Resource: tt.resource, Divisor: tt.divisor})
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Resource() error = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Resource() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
