package seccomp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/container"
)

func TestCheckLocalhostPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"profile.json", true},
		{"team/profile.json", true},
		{"./profile.json", true},
		{"a..b.json", true},
		{"", false},
		{"/etc/profile.json", false},
		{"../profile.json", false},
		{"team/../../profile.json", false},
		{"team/..", false},
		{"..", false},
		{"bad\x00.json", false},
	} {
		if err := CheckLocalhostPath(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckLocalhostPath(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

const testProfile = `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`

func TestLocalhostProfileStaysInDir(t *testing.T) {
	dir := t.TempDir()
	profiles := filepath.Join(dir, "seccomp")
	outside := filepath.Join(dir, "outside.json")
	for path, body := range map[string]string{
		filepath.Join(profiles, "ok.json"):      testProfile,
		filepath.Join(profiles, "team/ok.json"): testProfile,
		outside:                                 testProfile,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"abs-link.json": outside, "rel-link.json": "../outside.json", "in-link.json": "team/ok.json"} {
		if err := os.Symlink(target, filepath.Join(profiles, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(profiles, "dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := NewCompiler(profiles)
	caps := container.DefaultCapabilities()
	for _, tc := range []struct {
		name     string
		ok       bool
		notFound bool
	}{
		{"ok.json", true, false},
		{"team/ok.json", true, false},
		{"in-link.json", true, false},
		{"missing.json", false, true},
		{"abs-link.json", false, true},
		{"rel-link.json", false, true},
		{"../outside.json", false, false},
		{outside, false, false},
		{"dir.json", false, false},
	} {
		f, err := c.Filter(Profile{Type: Localhost, Localhost: tc.name}, caps)
		switch {
		case tc.ok && (err != nil || f == nil):
			t.Errorf("%s: %v, want a filter", tc.name, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: read a profile outside the directory", tc.name)
		case tc.notFound != errors.Is(err, ErrNoProfile):
			t.Errorf("%s: %v, want not found %v", tc.name, err, tc.notFound)
		}
	}
}

func TestCompilerCaches(t *testing.T) {
	c := NewCompiler(t.TempDir())
	caps := container.DefaultCapabilities()
	a, err := c.Filter(Profile{Type: RuntimeDefault}, caps)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Filter(Profile{Type: RuntimeDefault}, append([]string{caps[len(caps)-1]}, caps[:len(caps)-1]...))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same profile and capabilities in another order compiled twice")
	}
	admin, err := c.Filter(Profile{Type: RuntimeDefault}, append(caps, "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	if admin == a {
		t.Error("CAP_SYS_ADMIN shares the filter of the default capabilities")
	}
	if f, err := c.Filter(Profile{Type: Unconfined}, caps); f != nil || err != nil {
		t.Errorf("Unconfined: %v, %v; want no filter", f, err)
	}
}

func TestLocalhostProfileDecides(t *testing.T) {
	f, err := Parse([]byte(testProfile), Target{GOARCH: "amd64", Kernel: testKernel})
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, f)
	check(t, v, []call{
		{"keyctl", auditArchX8664, syscallsX8664()["keyctl"], nil, answer(retErrno | 13)},
		{"read", auditArchX8664, syscallsX8664()["read"], nil, allow},
		// The default action allows: a newer syscall is allowed too.
		{"beyond the profile", auditArchX8664, 1000, nil, allow},
	})
	if _, err := Parse([]byte(`{"defaultAction": 1}`), Target{GOARCH: "amd64"}); err == nil {
		t.Error("a malformed profile parsed")
	}
}

// BenchmarkRuntimeDefault is the cost of one compile, which the Compiler
// pays once per set of capabilities.
func BenchmarkRuntimeDefault(b *testing.B) {
	caps := container.DefaultCapabilities()
	for b.Loop() {
		c := NewCompiler(b.TempDir())
		if _, err := c.Filter(Profile{Type: RuntimeDefault}, caps); err != nil {
			b.Fatal(err)
		}
	}
}
