package container

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []string
		want mountOptions
	}{
		{"empty", nil, mountOptions{}},
		{"ro nosuid size", []string{"ro", "nosuid", "size=64m"}, mountOptions{flags: unix.MS_RDONLY | unix.MS_NOSUID, data: "size=64m"}},
		{"rw clears ro", []string{"ro", "rw"}, mountOptions{}},
		{"rbind and propagation", []string{"rbind", "rprivate"}, mountOptions{flags: unix.MS_BIND | unix.MS_REC, propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}}},
		{"data keeps order", []string{"mode=755", "nodev", "size=1k", "newinstance"}, mountOptions{flags: unix.MS_NODEV, data: "mode=755,size=1k,newinstance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseMountOptions(tt.opts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseMountOptions(%q) = %+v, want %+v", tt.opts, got, tt.want)
			}
		})
	}
}

func TestPlanOverlay(t *testing.T) {
	layer := func(i int) string {
		return "/var/lib/berth/images/layers/sha256/" + strings.Repeat(string(rune('a'+i%26)), 64) + "/fs"
	}
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = layer(i)
		}
		return out
	}
	tests := []struct {
		name    string
		lowers  []string
		upper   string
		wantDir string
		want    string
		wantErr error
	}{
		{name: "one layer", lowers: []string{"/l/a"}, upper: "/u", want: "lowerdir=/l/a,upperdir=/u,workdir=/w"},
		{name: "top first", lowers: []string{"/l/b", "/l/a"}, upper: "/u", want: "lowerdir=/l/b:/l/a,upperdir=/u,workdir=/w"},
		{name: "read-only overlay", lowers: []string{"/l/b", "/l/a"}, want: "lowerdir=/l/b:/l/a"},
		{name: "too long goes relative", lowers: many(50), upper: "/u", wantDir: "/var/lib/berth/images/layers/sha256"},
		{name: "too long even relative", lowers: many(80), upper: "/u", wantErr: errOverlayOptionsTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := ""
			if tt.upper != "" {
				work = "/w"
			}
			got, err := planOverlay(tt.lowers, tt.upper, work)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.dir != tt.wantDir {
				t.Errorf("dir = %q, want %q", got.dir, tt.wantDir)
			}
			if tt.want != "" && got.data != tt.want {
				t.Errorf("data = %q, want %q", got.data, tt.want)
			}
			if len(got.data) > maxMountData {
				t.Errorf("data is %d bytes, over a page", len(got.data))
			}
			if tt.wantDir != "" && strings.Contains(got.data, "lowerdir=/") {
				t.Errorf("relative plan still has absolute lowers: %q", got.data[:80])
			}
		})
	}
}

func TestPlanOverlayRejectsSeparators(t *testing.T) {
	for _, p := range []string{"/l/a:b", "/l/a,b"} {
		if _, err := planOverlay([]string{p}, "/u", "/w"); err == nil {
			t.Errorf("planOverlay(%q) succeeded", p)
		}
	}
}

func TestCommonParent(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/a/b/c"}, "/a/b"},
		{[]string{"/a/b/c", "/a/b/d"}, "/a/b"},
		{[]string{"/a/b/c", "/a/bc/d"}, "/a"},
		{[]string{"/a/b", "/x/y"}, "/"},
	}
	for _, tt := range tests {
		if got := commonParent(tt.paths); got != tt.want {
			t.Errorf("commonParent(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}
