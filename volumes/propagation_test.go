package volumes

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestPeeringOf(t *testing.T) {
	const mountinfo = `22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:22 / /srv rw,relatime - ext4 /dev/vdb rw
24 23 0:23 / /srv/shared rw,relatime shared:7 - tmpfs t rw
25 23 0:24 / /srv/slave rw,relatime master:7 - tmpfs t rw
26 23 0:25 / /srv/both rw shared:9 master:7 - tmpfs t rw
27 23 0:26 / /srv/with\040space rw shared:3 - tmpfs t rw
28 23 0:27 / /srv/shared rw,relatime - tmpfs stacked rw
`
	tests := []struct {
		path string
		want mountPeering
	}{
		{"/", mountPeering{mountPoint: "/", shared: true}},
		{"/home/x", mountPeering{mountPoint: "/", shared: true}},
		{"/srv", mountPeering{mountPoint: "/srv"}},
		{"/srv/sharedness", mountPeering{mountPoint: "/srv"}},
		{"/srv/slave/dir", mountPeering{mountPoint: "/srv/slave", slave: true}},
		{"/srv/both", mountPeering{mountPoint: "/srv/both", shared: true, slave: true}},
		{"/srv/with space/a", mountPeering{mountPoint: "/srv/with space", shared: true}},
		// The top of a stack decides: the private tmpfs on the shared one.
		{"/srv/shared/a", mountPeering{mountPoint: "/srv/shared"}},
	}
	for _, tt := range tests {
		got, err := peeringOf(strings.NewReader(mountinfo), tt.path)
		if err != nil {
			t.Fatalf("peeringOf(%q): %v", tt.path, err)
		}
		if got != tt.want {
			t.Errorf("peeringOf(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
	if _, err := peeringOf(strings.NewReader("1 2 3\n"), "/"); err == nil {
		t.Error("peeringOf(short line): no error")
	}
}

func TestCheckPeering(t *testing.T) {
	for _, tt := range []struct {
		m       mountPeering
		prop    string
		wantErr bool
	}{
		{mountPeering{mountPoint: "/", shared: true}, PropagationHostToContainer, false},
		{mountPeering{mountPoint: "/srv", slave: true}, PropagationHostToContainer, false},
		{mountPeering{mountPoint: "/srv"}, PropagationHostToContainer, true},
		{mountPeering{mountPoint: "/", shared: true}, PropagationBidirectional, false},
		{mountPeering{mountPoint: "/", shared: true, slave: true}, PropagationBidirectional, false},
		{mountPeering{mountPoint: "/srv", slave: true}, PropagationBidirectional, true},
		{mountPeering{mountPoint: "/srv"}, PropagationBidirectional, true},
	} {
		err := checkPeering(tt.m, "/srv/data", tt.prop)
		if got := err != nil; got != tt.wantErr {
			t.Errorf("checkPeering(%+v, %s) = %v, want error %v", tt.m, tt.prop, err, tt.wantErr)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "mount --make-rshared "+tt.m.mountPoint)) {
			t.Errorf("checkPeering(%+v, %s) = %v: want ErrInvalid saying what to do", tt.m, tt.prop, err)
		}
	}
}

func TestPropagationOf(t *testing.T) {
	pod := &manifests.Pod{Spec: manifests.PodSpec{
		InitContainers: []manifests.Container{{Name: "i", VolumeMounts: []manifests.VolumeMount{{Name: "both", MountPropagation: PropagationBidirectional}}}},
		Containers: []manifests.Container{{Name: "c", VolumeMounts: []manifests.VolumeMount{
			{Name: "both", MountPropagation: PropagationHostToContainer},
			{Name: "h2c", MountPropagation: PropagationHostToContainer},
			{Name: "none", MountPropagation: "None"},
		}}},
	}}
	for name, want := range map[string]string{"both": PropagationBidirectional, "h2c": PropagationHostToContainer, "none": "", "unmounted": ""} {
		if got := propagationOf(pod, name); got != want {
			t.Errorf("propagationOf(%s) = %q, want %q", name, got, want)
		}
	}
}
