package pod

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/manifests"
)

func TestRunKeyFitsSocketPaths(t *testing.T) {
	long := strings.Repeat("n", 63) + "_" + strings.Repeat("p", 253)
	l := NewLayout("/var/lib/berth", "/run/berth", "/var/log/berth/pods", strings.Repeat("n", 63), strings.Repeat("p", 253), "u")
	if len(l.Socket()) > 107 {
		t.Errorf("socket path of %d bytes", len(l.Socket()))
	}
	if podid.RunKey(long) == podid.RunKey("default_web") {
		t.Error("run keys collide")
	}
}

func TestHostname(t *testing.T) {
	for _, tc := range []struct{ name, hostname, want string }{
		{"web", "", "web"},
		{"web", "db", "db"},
		{strings.Repeat("a", 62) + ".b", "", strings.Repeat("a", 62)},
		{strings.Repeat("a", 70), "", strings.Repeat("a", 63)},
	} {
		p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: tc.name}, Spec: manifests.PodSpec{Hostname: tc.hostname}}
		if got := Hostname(p); got != tc.want {
			t.Errorf("Hostname(%q, %q) = %q, want %q", tc.name, tc.hostname, got, tc.want)
		}
	}
}
