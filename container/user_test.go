package container

import (
	"cmp"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/user"
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

// hostilePasswd and hostileGroup hold the lines an image may get wrong: a
// comment before root, numbers that do not parse, missing fields, ids
// outside 0..2^31-1.
const hostilePasswd = `# a comment before root is not a user
root:x:0:0:root:/root:/bin/sh

bad:x:notanumber:100::/home/bad:/bin/sh
short:x:1234
huge:x:4294967296:0::/:/bin/sh
negative:x:-5:0::/:/bin/sh
ok:x:2000:2000::/home/ok:/bin/sh
`

const hostileGroup = `# a comment
huge:x:4294967296:ok
nan:x:nan:ok
okgroup:x:2001:ok
`

// TestResolveUser is a golden table of Docker's --user semantics. Every
// case is also resolved by runc's own GetExecUser over the same files,
// which must agree on the uid, the primary gid and HOME ("/" where passwd
// has none) unless runcDiffers says why berth differs; the supplementary
// groups are containerd's, not runc's.
func TestResolveUser(t *testing.T) {
	tests := []struct {
		name          string
		spec          string
		passwd, group string // testPasswd and testGroup when empty
		noFiles       bool
		want          execUser
		wantErr       error
		errText       string
		runcDiffers   string
	}{
		{name: "empty is root", spec: "", want: execUser{UID: 0, GID: 0, Groups: []uint32{0, 10}, Home: "/root"}},
		{name: "root by number", spec: "0", want: execUser{UID: 0, GID: 0, Groups: []uint32{0, 10}, Home: "/root"}},
		{name: "name", spec: "app", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 29}, Home: "/home/app"}},
		{name: "known uid", spec: "1000", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 29}, Home: "/home/app"}},
		{name: "name and group by name", spec: "app:app", want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 29}, Home: "/home/app"}},
		{name: "unknown uid", spec: "4242", want: execUser{UID: 4242, Groups: []uint32{0}, Home: "/"}},
		{name: "unknown uid and gid", spec: "4242:4243", want: execUser{UID: 4242, GID: 4243, Groups: []uint32{4243}, Home: "/"}},
		{name: "unknown uid, group by name", spec: "4242:audio", want: execUser{UID: 4242, GID: 29, Groups: []uint32{29}, Home: "/"}},
		// containerd after CVE-2023-25173: /etc/group memberships stay with
		// an explicit group, and the primary gid is always in the list.
		{name: "explicit group keeps memberships", spec: "app:audio", want: execUser{UID: 1000, GID: 29, Groups: []uint32{29, 10}, Home: "/home/app"}},
		{name: "numeric group", spec: "1000:5", want: execUser{UID: 1000, GID: 5, Groups: []uint32{5, 10, 29}, Home: "/home/app"}},
		{name: "numeric group not in group file", spec: "1000:50", want: execUser{UID: 1000, GID: 50, Groups: []uint32{50, 10, 29}, Home: "/home/app"}},
		{name: "group named like the user is not a membership", spec: "selfish", want: execUser{UID: 1001, GID: 1001, Groups: []uint32{1001, 10}, Home: "/"}},
		{name: "no files numeric", spec: "1000:1000", noFiles: true, want: execUser{UID: 1000, GID: 1000, Groups: []uint32{1000}, Home: "/"}},
		{name: "unknown name", spec: "ghost", wantErr: user.ErrNoPasswdEntries, errText: "unable to find user ghost: no matching entries in passwd file"},
		{name: "unknown group", spec: "app:ghosts", wantErr: user.ErrNoGroupEntries, errText: "unable to find group ghosts: no matching entries in group file"},
		{name: "no files name", spec: "app", noFiles: true, wantErr: user.ErrNoPasswdEntries},
		{name: "no files group name", spec: "0:wheel", noFiles: true, wantErr: user.ErrNoGroupEntries},
		{name: "uid above int32", spec: "2147483648", errText: "between 0 and 2147483647"},
		{name: "uid above uint32", spec: "4294967296", errText: "between 0 and 2147483647"},
		{name: "negative uid", spec: "-1", errText: "between 0 and 2147483647"},
		{name: "gid above int32", spec: "0:4294967295", errText: "between 0 and 2147483647"},
		{name: "signed uid", spec: "+5", errText: "between 0 and 2147483647",
			runcDiffers: "strconv.Atoi reads +5 as 5; berth takes ids as plain digits only"},
		{name: "empty group", spec: "app:", errText: "empty id",
			runcDiffers: "runc ignores an empty group; berth refuses a spec it cannot read one way"},

		{name: "comment before root", spec: "0", passwd: hostilePasswd, group: hostileGroup,
			want:        execUser{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"},
			runcDiffers: "runc's parser reads the comment as a uid 0 user without a home; berth skips comments as glibc does"},
		{name: "uid that is not a number reads as 0", spec: "bad", passwd: hostilePasswd, group: hostileGroup,
			want: execUser{UID: 0, GID: 100, Groups: []uint32{100}, Home: "/home/bad"}},
		{name: "short line has gid 0", spec: "short", passwd: hostilePasswd, group: hostileGroup,
			want: execUser{UID: 1234, GID: 0, Groups: []uint32{0}, Home: "/"}},
		{name: "passwd uid above uint32 is no user", spec: "huge", passwd: hostilePasswd, group: hostileGroup,
			wantErr:     user.ErrNoPasswdEntries,
			runcDiffers: "runc returns uid 4294967296, which wraps to 0 as a uint32 (CVE-2024-40635)"},
		{name: "negative passwd uid is no user", spec: "negative", passwd: hostilePasswd, group: hostileGroup,
			wantErr:     user.ErrNoPasswdEntries,
			runcDiffers: "runc returns uid -5"},
		// A group whose gid does not parse is gid 0, as containerd reads it;
		// the one above uint32 is skipped.
		{name: "memberships of malformed groups", spec: "ok", passwd: hostilePasswd, group: hostileGroup,
			want: execUser{UID: 2000, GID: 2000, Groups: []uint32{2000, 0, 2001}, Home: "/home/ok"}},
		{name: "group above uint32 is no group", spec: "ok:huge", passwd: hostilePasswd, group: hostileGroup,
			wantErr:     user.ErrNoGroupEntries,
			runcDiffers: "runc returns gid 4294967296"},
		{name: "uid with group by name", spec: "2000:okgroup", passwd: hostilePasswd, group: hostileGroup,
			want: execUser{UID: 2000, GID: 2001, Groups: []uint32{2001, 0}, Home: "/home/ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			passwd, group := cmp.Or(tt.passwd, testPasswd), cmp.Or(tt.group, testGroup)
			readers := func() (io.Reader, io.Reader) {
				if tt.noFiles {
					return nil, nil
				}
				return strings.NewReader(passwd), strings.NewReader(group)
			}
			pw, gr := readers()
			got, err := resolveUser(tt.spec, pw, gr)
			pw, gr = readers()
			runc, runcErr := user.GetExecUser(tt.spec, &user.ExecUser{Home: "/"}, pw, gr)

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
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
				}
			}

			agrees := (err == nil) == (runcErr == nil)
			if err == nil && runcErr == nil {
				agrees = runc.Uid == int(got.UID) && runc.Gid == int(got.GID) && cmp.Or(runc.Home, "/") == got.Home
			}
			switch {
			case tt.runcDiffers == "" && !agrees:
				t.Errorf("runc resolves %q to %+v (err %v), berth to %+v (err %v)", tt.spec, runc, runcErr, got, err)
			case tt.runcDiffers != "" && agrees:
				t.Errorf("runc agrees with berth on %q: runcDiffers is stale", tt.spec)
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
