package mountinfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
50 22 0:45 / /var/lib/berth/pods/a/volumes/with\040space rw,nosuid shared:30 master:2 - tmpfs berth rw,size=1048576k
52 22 0:47 /sub /odd\134name\011tab rw - tmpfs my\040src rw
`
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{ID: 22, Parent: 1, Root: "/", MountPoint: "/", Optional: []string{"shared:1"}, FSType: "ext4", Source: "/dev/sda1"},
		{ID: 50, Parent: 22, Root: "/", MountPoint: "/var/lib/berth/pods/a/volumes/with space",
			Optional: []string{"shared:30", "master:2"}, FSType: "tmpfs", Source: "berth"},
		{ID: 52, Parent: 22, Root: "/sub", MountPoint: "/odd\\name\ttab", Optional: []string{}, FSType: "tmpfs", Source: "my src"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse() =\n%+v\nwant\n%+v", got, want)
	}
	for _, bad := range []string{"1 2 3\n", "1 2 0:1 / / rw shared:1 ext4 src rw\n", "x 2 0:1 / / rw - ext4 src rw\n", "1 2 0:1 / / rw - ext4\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{`/plain`, "/plain"},
		{`/a\040b`, "/a b"},
		{`/nl\012`, "/nl\n"},
		{`/trailing\04`, `/trailing\04`},
		{`/not\999octal`, `/not\999octal`},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnder(t *testing.T) {
	tests := []struct {
		p, dir string
		want   bool
	}{
		{"/a", "/", true},
		{"/a/b", "/a", true},
		{"/a", "/a", true},
		{"/ab", "/a", false},
		{"/", "/a", false},
	}
	for _, tt := range tests {
		if got := Under(tt.p, tt.dir); got != tt.want {
			t.Errorf("Under(%q, %q) = %v, want %v", tt.p, tt.dir, got, tt.want)
		}
	}
}
