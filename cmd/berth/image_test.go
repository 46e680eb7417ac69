//go:build !berthlean

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
)

func TestRefRows(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		refs []string
		want string
	}{
		{nil, "[{<none> <none>}]"},
		{[]string{"busybox:latest"}, "[{busybox:latest <none>}]"},
		{[]string{"nginx:1.27", "nginx@" + d, "web:1"}, fmt.Sprintf("[{nginx:1.27 %s} {web:1 <none>}]", d)},
		{[]string{"nginx@" + d}, fmt.Sprintf("[{nginx@%s %s}]", d, d)},
		{[]string{"127.0.0.1:5000/demo:1", "127.0.0.1:5000/demo@" + d, "demo:1"},
			fmt.Sprintf("[{127.0.0.1:5000/demo:1 %s} {demo:1 <none>}]", d)},
	} {
		if got := fmt.Sprint(refRows(tc.refs)); got != tc.want {
			t.Errorf("refRows(%v) = %s, want %s", tc.refs, got, tc.want)
		}
	}
}

// fakeClock advances by step on each reading.
func fakeClock(step time.Duration) func() time.Time {
	now := time.Unix(1_000_000, 0)
	return func() time.Time { now = now.Add(step); return now }
}

func TestPullProgressPlain(t *testing.T) {
	var out bytes.Buffer
	p := newPullProgress(&out, false)
	p.now = fakeClock(time.Second)
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	p.Start(a, 2048, false)
	p.Start(b, 10, true)
	p.Start(c, 5, false)
	p.Add(a, 2048)
	p.Done(a, nil)
	p.Done(c, errors.New("boom"))
	want := b.Encoded()[:12] + "        10B  already present\n" +
		a.Encoded()[:12] + "     2.0KiB  done in 4s\n" +
		c.Encoded()[:12] + "         5B  failed\n"
	if out.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestPullProgressTerminal(t *testing.T) {
	var out bytes.Buffer
	p := newPullProgress(&out, true)
	p.now = fakeClock(time.Second)
	a, b := digest.FromString("a"), digest.FromString("b")
	p.Start(a, 4096, false)
	p.Start(b, 4096, false)
	p.Add(a, 1024)
	p.Done(a, nil)
	p.Done(b, nil)
	s := out.String()
	// Each redraw after the first moves up over the lines drawn before.
	if !strings.HasPrefix(s, "\r\x1b[K"+a.Encoded()[:12]) || strings.Count(s, "\x1b[1A") != 1 || strings.Count(s, "\x1b[2A") != 3 {
		t.Errorf("redraws: %q", s)
	}
	if !strings.Contains(s, "1.0KiB / 4.0KiB") || !strings.Contains(s, "/s") {
		t.Errorf("no bytes and rate line: %q", s)
	}
	last := s[strings.LastIndex(s, "\x1b[2A"):]
	if strings.Count(last, "done in") != 2 {
		t.Errorf("last redraw does not show both done: %q", last)
	}
}

func TestImagePullAndList(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/demo:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	md, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	state := t.TempDir()
	out, code := run(t, "--state-dir", state, "image", "pull", host+"/demo:1")
	if code != 0 {
		t.Fatalf("pull: %s", out)
	}
	// Config and two layers, one plain line each, then the summary.
	if n := strings.Count(out, "  done in "); n != 3 || !strings.Contains(out, "pulled "+host+"/demo:1 ") || !strings.Contains(out, "(digest "+md.String()+", ") {
		t.Errorf("pull output:\n%s", out)
	}
	out, code = run(t, "--state-dir", state, "image", "ls")
	if code != 0 || !strings.Contains(out, host+"/demo:1") || !strings.Contains(out, md.String()) || strings.Contains(out, host+"/demo@") {
		t.Errorf("image ls:\n%s", out)
	}
	out, code = run(t, "--state-dir", state, "image", "pull", "--platform", "linux", host+"/demo:1")
	if code == 0 || !strings.Contains(out, "--platform") {
		t.Errorf("bad --platform: %d %s", code, out)
	}
}
