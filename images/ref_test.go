package images

import (
	"errors"
	"testing"
)

func TestNormalizeRef(t *testing.T) {
	dg := "sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	tests := []struct{ in, want string }{
		{"busybox", "busybox:latest"},
		{"busybox:1.36", "busybox:1.36"},
		{"docker.io/library/busybox", "busybox:latest"},
		{"index.docker.io/library/busybox:1", "busybox:1"},
		{"docker.io/myuser/app:v2", "myuser/app:v2"},
		{"docker.io/library/a/b", "library/a/b:latest"},
		{"ghcr.io/x/y:1", "ghcr.io/x/y:1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost:5000/app:dev", "localhost:5000/app:dev"},
		{"berth.test/demo", "berth.test/demo:latest"},
		{"busybox@" + dg, "busybox@" + dg},
		{"docker.io/library/busybox@" + dg, "busybox@" + dg},
	}
	for _, tt := range tests {
		got, err := NormalizeRef(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "Busybox", "a:", "a:b:c", "../x", "a//b", "x@sha256:zz", "x:1@" + dg, ":tag", "a b", "/x"} {
		if got, err := NormalizeRef(bad); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("NormalizeRef(%q) = %q, %v; want ErrInvalidRef", bad, got, err)
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
