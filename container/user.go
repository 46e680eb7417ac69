package container

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
)

// execUser is the resolved identity the user's program runs as.
type execUser struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	// Home is the passwd home directory, "/" when the user has none.
	Home string
}

// resolveUser resolves a Docker-style "user[:group]" spec against the
// contents of the container's /etc/passwd and /etc/group (nil readers
// when the files are missing: then only numeric ids work). The files are
// parsed by github.com/moby/sys/user, runc's parser, so the image's lines
// read as they do under Docker (see parsePasswd for the entries dropped).
// The uid and primary gid follow runc's GetExecUser: a user found in
// passwd brings its primary group unless a group is given. The
// supplementary groups follow containerd's CRI after CVE-2023-25173: the
// primary gid first, then every group of /etc/group that lists the user by
// name (except the group named like the user), whether or not a group was
// given; AddGroups then appends the pod's supplementalGroups and fsGroup.
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
	id, numeric, err := parseID(userPart)
	if err != nil {
		return execUser{}, fmt.Errorf("user %q: %w", userPart, err)
	}
	i := slices.IndexFunc(users, func(p user.User) bool {
		if numeric {
			return p.Uid == int(id)
		}
		return p.Name == userPart
	})
	switch {
	case i >= 0:
		// parsePasswd kept only ids in 0..2^31-1.
		pw := users[i]
		u.UID, u.GID, name = uint32(pw.Uid), uint32(pw.Gid), pw.Name
		if pw.Home != "" {
			u.Home = pw.Home
		}
	case numeric:
		u.UID = id
	default:
		return execUser{}, fmt.Errorf("unable to find user %s: %w", userPart, user.ErrNoPasswdEntries)
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
			if g.Name != name && slices.Contains(g.List, name) {
				u.AddGroups(uint32(g.Gid))
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
func resolveGroup(spec string, groups []user.Group) (uint32, error) {
	id, numeric, err := parseID(spec)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", spec, err)
	}
	if numeric {
		return id, nil
	}
	for _, g := range groups {
		if g.Name == spec {
			return uint32(g.Gid), nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: %w", spec, user.ErrNoGroupEntries)
}

// parseID parses a numeric uid/gid of a user spec. It reports
// numeric=false for names, and refuses numbers outside 0..2^31-1
// (CVE-2024-40635: larger values wrap to root in some paths).
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

// validID reports whether id, as the parser read it from the image's
// file, is in 0..2^31-1. One outside cannot be run as: it would wrap as a
// uint32 (CVE-2024-40635).
func validID(id int) bool { return id >= 0 && id <= math.MaxInt32 }

// parsePasswd parses the image's passwd file. Comment lines are dropped,
// as glibc drops them (this parser would read one as a user with uid 0),
// and so are entries whose uid or gid is outside 0..2^31-1. A uid or gid
// field that is not a number reads as 0, as under runc and Docker:
// runAsNonRoot still refuses such a user.
func parsePasswd(r io.Reader) ([]user.User, error) {
	if r == nil {
		return nil, nil
	}
	users, err := user.ParsePasswdFilter(r, func(u user.User) bool {
		return !strings.HasPrefix(u.Name, "#") && validID(u.Uid) && validID(u.Gid)
	})
	if err != nil {
		return nil, fmt.Errorf("read /etc/passwd: %w", err)
	}
	return users, nil
}

// parseGroup parses the image's group file (the parser skips comment
// lines), dropping entries whose gid is outside 0..2^31-1.
func parseGroup(r io.Reader) ([]user.Group, error) {
	if r == nil {
		return nil, nil
	}
	groups, err := user.ParseGroupFilter(r, func(g user.Group) bool { return validID(g.Gid) })
	if err != nil {
		return nil, fmt.Errorf("read /etc/group: %w", err)
	}
	return groups, nil
}
