package images

import (
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"
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

// TestNormalizeRefMatchesDistribution checks berth's reference parser
// against github.com/distribution/reference, which Docker uses and which
// berth links only in tests: same result (and, for ParseRef, the same
// parts), or an error from both, over every
// combination of domains, paths, tags and digests below, valid and not.
func TestNormalizeRefMatchesDistribution(t *testing.T) {
	hex := strings.Repeat("ab12", 16)
	domains := []string{"", "docker.io/", "index.docker.io/", "localhost/", "localhost:5000/", "ghcr.io/",
		"Example.com/", "my-reg.test:443/", "[::1]:5000/", "[fe80::1]/", "a_b.c/", "-bad.io/", "Upper/",
		"library/", "127.0.0.1:80/", "host:/", "x..y/"}
	paths := []string{"busybox", "library/busybox", "a/b", "library/a/b", "my-app_2.x__y", "a__b", "a___b",
		"a--b", "a.-b", "UPPER", "a/B", "a//b", "a/", "/a", "", "../x", "a b", "a.b.c/d-e/f_g",
		strings.Repeat("a", 255), strings.Repeat("a", 256), "docker.io", hex, "localhost"}
	tags := []string{"", ":latest", ":1.36", ":Tag_1.0-rc", ":", ":-x", ":.x", ":_x", ":" + strings.Repeat("t", 128),
		":" + strings.Repeat("t", 129), ":a:b", ":a/b"}
	digests := []string{"", "@sha256:" + hex, "@sha256:" + strings.ToUpper(hex), "@sha256:zz", "@sha256:" + hex[:8],
		"@sha512:" + hex, "@md5:" + hex, "@sha256+b64u:" + hex, "@:" + hex, "@sha256:" + hex + hex}
	var inputs []string
	for _, d := range domains {
		for _, p := range paths {
			for _, tg := range tags {
				for _, dg := range digests {
					inputs = append(inputs, d+p+tg+dg)
				}
			}
		}
	}
	inputs = append(inputs, hex, "sha256:"+hex, "localhost", "localhost:5000", "docker.io", "@sha256:"+hex)
	d := digest.Digest("sha256:" + strings.Repeat("cd34", 16))
	for _, in := range inputs {
		got, err := NormalizeRef(in)
		var want string
		named, werr := reference.ParseDockerRef(in)
		if werr == nil {
			want = reference.FamiliarString(named)
		}
		if (err == nil) != (werr == nil) || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; distribution: %q, %v", in, got, err, want, werr)
		}
		if r, err := ParseRef(in); werr == nil && err == nil {
			var wantTag string
			var wantDigest digest.Digest
			if tagged, ok := named.(reference.Tagged); ok {
				wantTag = tagged.Tag()
			}
			if canonical, ok := named.(reference.Canonical); ok {
				wantDigest = canonical.Digest()
			}
			if r.Domain != reference.Domain(named) || r.Path != reference.Path(named) || r.Name() != named.Name() ||
				r.Tag != wantTag || r.Digest != wantDigest {
				t.Errorf("ParseRef(%q) = %+v, %s; distribution: %s %s %q %s", in, r, r.Name(),
					reference.Domain(named), reference.Path(named), wantTag, wantDigest)
			}
		}
		gotD, err := digestRef(in, d)
		var wantD string
		named, werr = reference.ParseNormalizedNamed(in)
		if werr == nil {
			var canonical reference.Canonical
			if canonical, werr = reference.WithDigest(reference.TrimNamed(named), d); werr == nil {
				wantD = reference.FamiliarString(canonical)
			}
		}
		if (err == nil) != (werr == nil) || gotD != wantD {
			t.Errorf("digestRef(%q) = %q, %v; distribution: %q, %v", in, gotD, err, wantD, werr)
		}
	}
	t.Logf("%d references compared", len(inputs))
}
