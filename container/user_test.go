package container

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1::/:/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
selfish:x:1001:1001:::/bin/sh
broken line
nobody:x:65534:65534::/:/sbin/nologin
`

const testGroup = `root:x:0:
wheel:x:10:root,app,selfish
app:x:1000:
selfish:x:1002:selfish
audio:x:29:app
nogroup:x:65534:
`

func TestResolveUser(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		noFiles bool
		want    execUser
		wantErr error
		errText string
	}{
		{name: "empty is root", spec: "", want: execUser{UID: 0, GID: 0, Groups: []uint32{0, 10}, Home: "/root"}},
		{name: "name", spec: "app", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 29}, Home: "/home/app"}},
		{name: "known uid", spec: "1000", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 29}, Home: "/home/app"}},
		{name: "unknown uid", spec: "4242", want: execUser{UID: 4242, Groups: []uint32{0}, Home: "/"}},
		// containerd after CVE-2023-25173: /etc/group memberships stay with
		// an explicit group, and the primary gid is always in the list.
		{name: "explicit group keeps memberships", spec: "app:audio", want: execUser{UID: 1000, GID: 29, Groups: []uint32{29, 10}, Home: "/home/app"}},
		{name: "numeric group", spec: "1000:5", want: execUser{UID: 1000, GID: 5, Groups: []uint32{5, 10, 29}, Home: "/home/app"}},
		{name: "group named like the user is not a membership", spec: "selfish", want: execUser{UID: 1001, GID: 1001, Groups: []uint32{1001, 10}, Home: "/"}},
		{name: "no files numeric", spec: "1000:1000", noFiles: true, want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000}, Home: "/"}},
		{name: "unknown name", spec: "ghost", wantErr: errNoUser, errText: "unable to find user ghost"},
		{name: "unknown group", spec: "app:ghosts", wantErr: errNoGroup},
		{name: "no files name", spec: "app", noFiles: true, wantErr: errNoUser},
		{name: "uid above int32", spec: "2147483648", errText: "between 0 and 2147483647"},
		{name: "negative uid", spec: "-1", errText: "between 0 and 2147483647"},
		{name: "gid above int32", spec: "0:4294967295", errText: "between 0 and 2147483647"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pw, gr *strings.Reader
			if !tt.noFiles {
				pw, gr = strings.NewReader(testPasswd), strings.NewReader(testGroup)
			}
			var got execUser
			var err error
			if tt.noFiles {
				got, err = resolveUser(tt.spec, nil, nil)
			} else {
				got, err = resolveUser(tt.spec, pw, gr)
			}
			if tt.wantErr != nil || tt.errText != "" {
				if err == nil {
					t.Fatalf("resolveUser(%q) = %+v, want an error", tt.spec, got)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("err = %q, want it to contain %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestEnvWithHome(t *testing.T) {
	tests := []struct {
		env  []string
		want []string
	}{
		{nil, []string{"HOME=/home/app"}},
		{[]string{"A=b"}, []string{"A=b", "HOME=/home/app"}},
		{[]string{"HOME=/custom", "A=b"}, []string{"HOME=/custom", "A=b"}},
	}
	for _, tt := range tests {
		if got := envWithHome(tt.env, "/home/app"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("envWithHome(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestAddGroups(t *testing.T) {
	tests := []struct {
		name  string
		start []uint32
		add   []uint32
		want  []uint32
	}{
		{name: "appends in order", start: []uint32{1000, 10}, add: []uint32{3000, 2000}, want: []uint32{1000, 10, 3000, 2000}},
		{name: "skips present", start: []uint32{1000, 10}, add: []uint32{10, 2000, 2000, 1000}, want: []uint32{1000, 10, 2000}},
		{name: "nothing to add", start: []uint32{0}, want: []uint32{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := execUser{Groups: slices.Clone(tt.start)}
			u.AddGroups(tt.add...)
			if !slices.Equal(u.Groups, tt.want) {
				t.Errorf("AddGroups(%v) on %v = %v, want %v", tt.add, tt.start, u.Groups, tt.want)
			}
		})
	}
}
