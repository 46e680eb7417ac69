package images

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/lazyre"
)

// The reference grammars are compiled on first use, not at package init:
// every berth process links this package, including each pod's infra and
// each container's init, which never parse a reference. Compiled eagerly
// they cost those processes ~0.8 ms of start-up and ~180 kB of heap each
// (the counted repetitions unroll into large programs; see BENCHMARKS.md).
var (
	// refNameRe is Docker's repository name grammar, with an optional
	// registry host[:port] as the first component.
	refNameRe = lazyre.New(`^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	refTagRe    = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	refDigestRe = lazyre.New(`^sha256:[a-f0-9]{64}$`)
)

// NormalizeRef validates ref and returns its familiar form (see the package
// doc): "busybox" -> "busybox:latest",
// "docker.io/library/busybox:1" -> "busybox:1". A digest reference
// ("name@sha256:...") keeps its digest and gets no tag.
func NormalizeRef(ref string) (string, error) {
	name, digest, hasDigest := strings.Cut(ref, "@")
	tag := ""
	// The tag is after the last ':' that follows the last '/', so that a
	// registry port ("host:5000/x") is not taken for a tag.
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
		if !refTagRe().MatchString(tag) {
			return "", fmt.Errorf("reference %q: invalid tag %q: %w", ref, tag, ErrInvalidRef)
		}
	}
	if len(name) > 255 || !refNameRe().MatchString(name) {
		return "", fmt.Errorf("reference %q: invalid name: %w", ref, ErrInvalidRef)
	}
	name = familiarName(name)
	switch {
	case hasDigest && tag != "":
		return "", fmt.Errorf("reference %q: both tag and digest: %w", ref, ErrInvalidRef)
	case hasDigest:
		if !refDigestRe().MatchString(digest) {
			return "", fmt.Errorf("reference %q: invalid digest: %w", ref, ErrInvalidRef)
		}
		return name + "@" + digest, nil
	case tag == "":
		tag = "latest"
	}
	return name + ":" + tag, nil
}

// familiarName drops Docker Hub's registry host and its "library/"
// namespace for official images.
func familiarName(name string) string {
	for _, hub := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		if rest, ok := strings.CutPrefix(name, hub); ok {
			if short, ok := strings.CutPrefix(rest, "library/"); ok && !strings.Contains(short, "/") {
				return short
			}
			return rest
		}
	}
	return name
}

// repoName returns the name part of a normalized reference, without its
// tag or digest.
func repoName(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i]
	}
	return ref
}
