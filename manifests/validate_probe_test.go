package manifests

import (
	"slices"
	"testing"
)

func TestSidecars(t *testing.T) {
	always, never := "Always", "Never"
	spec := &PodSpec{
		InitContainers: []Container{{Name: "setup"}, {Name: "proxy", RestartPolicy: &always}, {Name: "once", RestartPolicy: &never}, {Name: "logs", RestartPolicy: &always}},
		Containers:     []Container{{Name: "app"}},
	}
	var got []string
	for _, c := range Sidecars(spec) {
		got = append(got, c.Name)
	}
	if want := []string{"proxy", "logs"}; !slices.Equal(got, want) {
		t.Errorf("Sidecars = %v, want %v", got, want)
	}
	if got := Sidecars(&PodSpec{Containers: spec.Containers}); got != nil {
		t.Errorf("Sidecars of a pod without init containers = %v, want none", got)
	}
}
