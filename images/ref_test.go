package images

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestNormalizeRef is the table of what Docker users know: the names
// docker pull, docker tag and docker image ls accept and show.
func TestNormalizeRef(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ab12", 16)
	tests := []struct{ in, want string }{
		{"busybox", "busybox:latest"},
		{"busybox:1.36", "busybox:1.36"},
		{"library/busybox", "busybox:latest"},
		{"library/busybox:1.36", "busybox:1.36"},
		{"docker.io/busybox", "busybox:latest"},
		{"docker.io/library/busybox", "busybox:latest"},
		{"docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox:1", "busybox:1"},
		{"myuser/app:v2", "myuser/app:v2"},
		{"docker.io/myuser/app:v2", "myuser/app:v2"},
		{"docker.io/library/a/b", "library/a/b:latest"},
		{"ghcr.io/x/y:1", "ghcr.io/x/y:1"},
		{"ghcr.io/library/busybox", "ghcr.io/library/busybox:latest"},
		{"localhost/app", "localhost/app:latest"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost:5000/app:dev", "localhost:5000/app:dev"},
		{"[::1]:5000/app:dev", "[::1]:5000/app:dev"},
		{"berth.test/demo", "berth.test/demo:latest"},
		{"my-app_2.x__y:Tag_1.0-rc", "my-app_2.x__y:Tag_1.0-rc"},
		{"busybox@" + dg, "busybox@" + dg},
		{"docker.io/library/busybox@" + dg, "busybox@" + dg},
		{"busybox:1.36@" + dg, "busybox@" + dg},
		{"ghcr.io/x/y:1@" + dg, "ghcr.io/x/y@" + dg},
	}
	for _, tt := range tests {
		got, err := NormalizeRef(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []string{
		"",
		"Busybox",              // repository names are lowercase
		"a:",                   // empty tag
		"a:b:c",                // two tags
		"../x",                 // path tricks
		"a//b",                 // empty component
		"/x",                   // leading slash
		":tag",                 // no name
		"a b",                  // space
		"x@sha256:zz",          // not a digest
		"x@sha256:" + dg[7:15], // short digest
		"x:" + strings.Repeat("t", 129),
		strings.Repeat("ab12", 16), // an image ID is not a name
	}
	for _, in := range bad {
		if got, err := NormalizeRef(in); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("NormalizeRef(%q) = %q, %v; want ErrInvalidRef", in, got, err)
		}
	}
}

func TestDigestRef(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("cd34", 16))
	tests := []struct{ in, want string }{
		{"busybox:latest", "busybox@" + d.String()},
		{"myuser/app:v2", "myuser/app@" + d.String()},
		{"localhost:5000/app:dev", "localhost:5000/app@" + d.String()},
		{"busybox@sha256:" + strings.Repeat("ab12", 16), "busybox@" + d.String()},
	}
	for _, tt := range tests {
		got, err := digestRef(tt.in, d)
		if err != nil || got != tt.want {
			t.Errorf("digestRef(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCleanEntryName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"a/b", "a/b", true},
		{"./a/b/", "a/b", true},
		{"/abs/x", "abs/x", true},
		{"//a//b", "a/b", true},
		{"./", ".", true},
		{"/", ".", true},
		{"../../x", "", false},
		{"/abs/../../x", "", false},
		{"a/../b", "", false},
		{"a/..", "", false},
		{"a\x00b", "", false},
	}
	for _, tt := range tests {
		got, err := cleanEntryName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("cleanEntryName(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("cleanEntryName(%q) error %v is not ErrUnsafeEntry", tt.in, err)
		}
	}
}

func TestClassifyWhiteout(t *testing.T) {
	tests := []struct {
		in     string
		kind   whiteoutKind
		target string
		ok     bool
	}{
		{"file", notWhiteout, "", true},
		{".wh.file", whiteoutFile, "file", true},
		{".wh..wh..opq", whiteoutDir, "", true},
		{".wh..wh.plnk", whiteoutAufs, "", true},
		{".wh.", 0, "", false},
		{".wh...", 0, "", false},
		{".whx", notWhiteout, "", true},
	}
	for _, tt := range tests {
		kind, target, err := classifyWhiteout(tt.in)
		if (err == nil) != tt.ok || kind != tt.kind || target != tt.target {
			t.Errorf("classifyWhiteout(%q) = %v, %q, %v", tt.in, kind, target, err)
		}
	}
}

func TestAllowedXattr(t *testing.T) {
	for name, want := range map[string]bool{
		"user.foo":                true,
		"security.capability":     true,
		"trusted.overlay.opaque":  false,
		"trusted.x":               false,
		"security.selinux":        false,
		"system.posix_acl_access": false,
	} {
		if got := allowedXattr(name); got != want {
			t.Errorf("allowedXattr(%q) = %v", name, got)
		}
	}
}
