package volumes

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountPoints(t *testing.T) {
	in := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
50 22 0:45 / /var/lib/berth/pods/a/volumes/secret/tls rw,nosuid,nodev shared:30 - tmpfs berth rw,size=1048576k
51 22 0:46 / /var/lib/berth/pods/a/volumes/empty-dir/with\040space rw - tmpfs berth rw
52 22 0:47 / /odd\134name\011tab rw - tmpfs berth rw
`
	got, err := parseMountPoints(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/",
		"/var/lib/berth/pods/a/volumes/secret/tls",
		"/var/lib/berth/pods/a/volumes/empty-dir/with space",
		"/odd\\name\ttab",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountPoints() = %q, want %q", got, want)
	}
	if _, err := parseMountPoints(strings.NewReader("1 2 3\n")); err == nil {
		t.Error("parseMountPoints() of a short line: want an error")
	}
}

func TestMountsUnder(t *testing.T) {
	points := []string{
		"/",
		"/pods/a",
		"/pods/a/volumes/secret/tls",
		"/pods/ab/volumes/secret/tls", // a sibling with a common prefix
		"/pods/a/volumes/empty-dir/x",
		"/pods/a/volumes/empty-dir/x/nested",
		"/pods/a/volumes/secret/tls", // stacked on the first
		"/other",
	}
	got := mountsUnder(points, "/pods/a")
	want := []string{
		"/pods/a/volumes/empty-dir/x/nested",
		"/pods/a/volumes/secret/tls",
		"/pods/a/volumes/empty-dir/x",
		"/pods/a/volumes/secret/tls",
		"/pods/a",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsUnder() =\n%q\nwant\n%q", got, want)
	}
}
