package container

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// execUser is the resolved identity the user's program runs as.
type execUser struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	// Home is the passwd home directory, "/" when the user has none.
	Home string
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name string
	uid  uint32
	gid  uint32
	home string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// errNoUser and errNoGroup are returned when a name is not in the rootfs's
// passwd or group file.
var (
	errNoUser  = errors.New("no matching entries in passwd file")
	errNoGroup = errors.New("no matching entries in group file")
)

// resolveUser resolves a Docker-style "user[:group]" spec against the
// contents of the container's /etc/passwd and /etc/group (nil readers
// when the files are missing: then only numeric ids work). The uid and
// primary gid follow runc's GetExecUser: a user found in passwd brings its
// primary group unless a group is given. The supplementary groups follow
// containerd's CRI after CVE-2023-25173: the primary gid first, then every
// group of /etc/group that lists the user by name (except the group named
// like the user), whether or not a group was given; AddGroups then appends
// the pod's supplementalGroups and fsGroup.
func resolveUser(spec string, passwd, group io.Reader) (execUser, error) {
	userPart, groupPart, explicitGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	users, err := parsePasswd(passwd)
	if err != nil {
		return execUser{}, err
	}
	groups, err := parseGroup(group)
	if err != nil {
		return execUser{}, err
	}

	u := execUser{Home: "/"}
	var name string
	if id, numeric, err := parseID(userPart); err != nil {
		return execUser{}, fmt.Errorf("user %q: %w", userPart, err)
	} else if numeric {
		u.UID = id
		if pw, ok := findUser(users, func(p passwdEntry) bool { return p.uid == id }); ok {
			u.GID, name = pw.gid, pw.name
			u.Home = homeOr(pw.home, u.Home)
		}
	} else {
		pw, ok := findUser(users, func(p passwdEntry) bool { return p.name == userPart })
		if !ok {
			return execUser{}, fmt.Errorf("unable to find user %s: %w", userPart, errNoUser)
		}
		u.UID, u.GID, name = pw.uid, pw.gid, pw.name
		u.Home = homeOr(pw.home, u.Home)
	}

	if explicitGroup {
		gid, err := resolveGroup(groupPart, groups)
		if err != nil {
			return execUser{}, err
		}
		u.GID = gid
	}
	u.Groups = []uint32{u.GID}
	if name != "" {
		for _, g := range groups {
			if g.name != name && slices.Contains(g.members, name) {
				u.AddGroups(g.gid)
			}
		}
	}
	return u, nil
}

// AddGroups appends gids to the supplementary groups, skipping those
// already there.
func (u *execUser) AddGroups(gids ...uint32) {
	for _, g := range gids {
		if !slices.Contains(u.Groups, g) {
			u.Groups = append(u.Groups, g)
		}
	}
}

func homeOr(home, def string) string {
	if home == "" {
		return def
	}
	return home
}

// envWithHome adds HOME=home to env unless env sets HOME, as runc does.
func envWithHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(slices.Clip(env), "HOME="+home)
}

// resolveGroup resolves the group part of a user spec.
func resolveGroup(spec string, groups []groupEntry) (uint32, error) {
	id, numeric, err := parseID(spec)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", spec, err)
	}
	if numeric {
		return id, nil
	}
	for _, g := range groups {
		if g.name == spec {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: %w", spec, errNoGroup)
}

// parseID parses a numeric uid/gid. It reports numeric=false for names, and
// refuses numbers outside 0..2^31-1 (CVE-2024-40635: larger values wrap to
// root in some paths).
func parseID(s string) (id uint32, numeric bool, err error) {
	if s == "" {
		return 0, false, errors.New("empty id")
	}
	if strings.TrimLeft(s, "0123456789") != "" {
		if s[0] == '-' || s[0] == '+' {
			return 0, false, errors.New("ids must be between 0 and 2147483647")
		}
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, false, errors.New("ids must be between 0 and 2147483647")
	}
	return uint32(n), true, nil
}

func findUser(users []passwdEntry, match func(passwdEntry) bool) (passwdEntry, bool) {
	for _, u := range users {
		if match(u) {
			return u, true
		}
	}
	return passwdEntry{}, false
}

// parsePasswd reads name:passwd:uid:gid:gecos:home:shell lines, skipping
// comments and lines that do not parse (as libc does).
func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, uok, _ := parseID(f[2])
		gid, gok, _ := parseID(f[3])
		if uok && gok {
			e := passwdEntry{name: f[0], uid: uid, gid: gid}
			if len(f) > 5 {
				e.home = f[5]
			}
			out = append(out, e)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read passwd: %w", err)
	}
	return out, nil
}

// parseGroup reads name:passwd:gid:member,member lines.
func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, ok, _ := parseID(f[2])
		if !ok {
			return
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	if err != nil {
		return nil, fmt.Errorf("read group: %w", err)
	}
	return out, nil
}

// eachLine calls fn with the ':'-separated fields of every non-comment line.
func eachLine(r io.Reader, fn func([]string)) error {
	if r == nil {
		return nil
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return sc.Err()
}
