package reexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseFds(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		ok      bool
		cfg, sy int
	}{
		{[]string{"--config-fd=3", "--sync-fd=4"}, true, 3, 4},
		{[]string{"--config-fd=3"}, false, 0, 0},
		{[]string{"--config-fd=4", "--sync-fd=4"}, false, 0, 0},
		{[]string{"--config-fd=1", "--sync-fd=4"}, false, 0, 0},
		{[]string{"--bogus"}, false, 0, 0},
	} {
		c, s, err := ParseFds("x", tc.args)
		if (err == nil) != tc.ok || (tc.ok && (c != tc.cfg || s != tc.sy)) {
			t.Errorf("ParseFds(%q) = %d, %d, %v", tc.args, c, s, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	base := errors.New("boom")
	if st, msg := Describe(Step("mount rootfs", func() error { return base }), "init"); st != "mount rootfs" || msg != "boom" {
		t.Errorf("step error described as %q, %q", st, msg)
	}
	if st, msg := Describe(base, "init"); st != "init" || msg != "boom" {
		t.Errorf("plain error described as %q, %q", st, msg)
	}
	if err := Step("x", func() error { return nil }); err != nil {
		t.Errorf("Step of a success = %v", err)
	}
}

func TestDecodeConfigIsStrict(t *testing.T) {
	type cfg struct{ A int }
	for _, tc := range []struct {
		in string
		ok bool
	}{{`{"A":1}`, true}, {`{"A":1,"B":2}`, false}, {`{`, false}} {
		p := filepath.Join(t.TempDir(), "c")
		os.WriteFile(p, []byte(tc.in), 0o600)
		f, _ := os.Open(p)
		var c cfg
		if err := DecodeConfig(f, &c); (err == nil) != tc.ok {
			t.Errorf("DecodeConfig(%s) = %v", tc.in, err)
		}
	}
}

// TestNameProcess: the name is the process's, as ps shows it (the thread
// group leader's comm), whichever thread sets it.
func TestNameProcess(t *testing.T) {
	leader := func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", os.Getpid(), os.Getpid()))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	was := leader()
	t.Cleanup(func() { NameProcess(was) })
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- NameProcess("berth-named-process")
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := leader(); got != "berth-named-pro" {
		t.Errorf("the process is named %q, want the name's first 15 bytes", got)
	}
}
