package images

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/lazyre"
)

// Docker's reference grammar, as github.com/distribution/reference
// documents it:
//
//	reference := name [ ":" tag ] [ "@" digest ]
//	name      := [domain "/"] path-component ["/" path-component]*
//	domain    := host [":" port]   (a DNS name, or an IPv6 address in brackets)
//
// berth parses it itself rather than through that package, which compiles
// its regular expressions at package initialisation: about 0.7 ms and
// 400 kB in every berth process, CLI verbs included, since one binary links
// it for all. These are compiled on the first reference parsed.
// TestNormalizeRefMatchesDistribution checks the two agree.
const (
	refPathComponent = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	refDomainLabel   = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomain        = `(?:` + refDomainLabel + `(?:\.` + refDomainLabel + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	refTag           = `[\w][\w.-]{0,127}`
	refDigest        = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`
)

var (
	// refRE captures domain, path, tag and digest.
	refRE = lazyre.New(`^(?:(` + refDomain + `)/)?(` + refPathComponent + `(?:/` + refPathComponent + `)*)` +
		`(?::(` + refTag + `))?(?:@(` + refDigest + `))?$`)
	refDigestRE = lazyre.New(`^` + refDigest + `$`)
	// imageIDRE is a bare image ID, which is never taken for a name.
	imageIDRE = lazyre.New(`^[a-f0-9]{64}$`)
)

const (
	dockerHub       = "docker.io"
	legacyDockerHub = "index.docker.io"
	officialPrefix  = "library/"
	// maxRepoPath is the longest repository path Docker accepts.
	maxRepoPath = 255
)

// imageRef is a parsed, normalized reference: domain is never empty.
type imageRef struct {
	domain, path, tag string
	digest            digest.Digest
}

// parseNormalizedRef parses s as Docker does for a name the user typed:
// without a domain it is on Docker Hub, in "library/" when it has one
// path component.
func parseNormalizedRef(s string) (imageRef, error) {
	if imageIDRE().MatchString(s) {
		return imageRef{}, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, rest := splitDomain(s)
	repo, _, _ := strings.Cut(rest, ":")
	if strings.ToLower(repo) != repo {
		return imageRef{}, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", repo)
	}
	full := domain + "/" + rest
	m := refRE().FindStringSubmatch(full)
	if m == nil {
		if refRE().MatchString(strings.ToLower(full)) {
			return imageRef{}, fmt.Errorf("invalid reference format: repository name must be lowercase")
		}
		return imageRef{}, fmt.Errorf("invalid reference format")
	}
	r := imageRef{domain: m[1], path: m[2], tag: m[3]}
	if len(r.path) > maxRepoPath {
		return imageRef{}, fmt.Errorf("repository name must not be more than %d characters", maxRepoPath)
	}
	if m[4] != "" {
		d, err := digest.Parse(m[4])
		if err != nil {
			return imageRef{}, err
		}
		r.digest = d
	}
	return r, nil
}

// splitDomain splits the domain off a name; a first component is a domain
// when it is "localhost", holds a "." or ":", or has upper case (which a
// path cannot).
func splitDomain(name string) (domain, rest string) {
	first, after, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return dockerHub, officialPrefix + name
	case first == legacyDockerHub:
		domain, rest = dockerHub, after
	case first == "localhost" || strings.ContainsAny(first, ".:") || strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = dockerHub, name
	}
	if domain == dockerHub && !strings.Contains(rest, "/") {
		rest = officialPrefix + rest
	}
	return domain, rest
}

// familiar is the form Docker shows: Docker Hub's domain dropped, and its
// "library/" too for a one-component path.
func (r imageRef) familiar() string {
	name := r.path
	switch {
	case r.domain == "":
	case r.domain != dockerHub:
		name = r.domain + "/" + r.path
	case strings.HasPrefix(name, officialPrefix) && !strings.Contains(name[len(officialPrefix):], "/"):
		name = name[len(officialPrefix):]
	}
	if r.tag != "" {
		name += ":" + r.tag
	}
	if r.digest != "" {
		name += "@" + r.digest.String()
	}
	return name
}

// NormalizeRef validates ref as Docker does and returns the form the store
// keeps and shows, Docker's familiar one (see the package doc):
// "busybox", "library/busybox" and "docker.io/library/busybox:latest" are
// all "busybox:latest"; "docker.io/myuser/app" is "myuser/app:latest"; other
// registries keep their host. A reference with a digest keeps only the
// digest, as docker pull does with "name:tag@sha256:...".
func NormalizeRef(ref string) (string, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

// Ref is a reference normalized as NormalizeRef does, in parts: Domain is
// "docker.io" for Docker Hub, and empty only where Docker's grammar leaves
// it so (a first component with a "." that is no host name, "a_b.c/x");
// Path has Docker Hub's "library/" where it applies; there is a Tag or a
// Digest, never both.
type Ref struct {
	Domain, Path, Tag string
	Digest            digest.Digest
}

// ParseRef parses ref as NormalizeRef does and returns its parts.
func ParseRef(ref string) (Ref, error) {
	r, err := parseNormalizedRef(ref)
	if err != nil {
		return Ref{}, fmt.Errorf("reference %q: %v: %w", ref, err, ErrInvalidRef)
	}
	switch {
	case r.digest != "":
		r.tag = ""
	case r.tag == "":
		r.tag = "latest"
	}
	return Ref{Domain: r.domain, Path: r.path, Tag: r.tag, Digest: r.digest}, nil
}

// Name is the repository's full name: "docker.io/library/busybox".
func (r Ref) Name() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

// String is the familiar form, NormalizeRef's.
func (r Ref) String() string {
	return imageRef{domain: r.Domain, path: r.Path, tag: r.Tag, digest: r.Digest}.familiar()
}

// digestRef returns the digest reference of the same repository as the
// normalized reference ref: ("busybox:1", d) -> "busybox@<d>".
func digestRef(ref string, d digest.Digest) (string, error) {
	r, err := parseNormalizedRef(ref)
	if err != nil {
		return "", fmt.Errorf("reference %q: %v: %w", ref, err, ErrInvalidRef)
	}
	if !refDigestRE().MatchString(d.String()) {
		return "", fmt.Errorf("reference %q with digest %s: invalid digest format: %w", ref, d, ErrInvalidRef)
	}
	r.tag, r.digest = "", d
	return r.familiar(), nil
}
