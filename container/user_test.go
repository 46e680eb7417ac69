package container

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1::/:/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
broken line
nobody:x:65534:65534::/:/sbin/nologin
`

const testGroup = `root:x:0:
wheel:x:10:root,app
app:x:1000:
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
		{name: "empty is root", spec: "", want: execUser{UID: 0, GID: 0, Groups: []uint32{10}, Home: "/root"}},
		{name: "name", spec: "app", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{10, 29}, Home: "/home/app"}},
		{name: "known uid", spec: "1000", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{10, 29}, Home: "/home/app"}},
		{name: "unknown uid", spec: "4242", want: execUser{UID: 4242, Home: "/"}},
		{name: "explicit group drops supplementary", spec: "app:audio", want: execUser{UID: 1000, GID: 29, Home: "/home/app"}},
		{name: "numeric group", spec: "1000:5", want: execUser{UID: 1000, GID: 5, Home: "/home/app"}},
		{name: "no files numeric", spec: "1000:1000", noFiles: true, want: execUser{UID: 1000, GID: 1000, Home: "/"}},
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
