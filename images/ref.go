package images

import (
	"fmt"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// NormalizeRef validates ref as Docker does and returns the form the store
// keeps and shows, Docker's familiar one (see the package doc):
// "busybox", "library/busybox" and "docker.io/library/busybox:latest" are
// all "busybox:latest"; "docker.io/myuser/app" is "myuser/app:latest"; other
// registries keep their host. A reference with a digest keeps only the
// digest, as docker pull does with "name:tag@sha256:...".
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("reference %q: %v: %w", ref, err, ErrInvalidRef)
	}
	return reference.FamiliarString(named), nil
}

// digestRef returns the digest reference of the same repository as the
// normalized reference ref: ("busybox:1", d) -> "busybox@<d>".
func digestRef(ref string, d digest.Digest) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("reference %q: %v: %w", ref, err, ErrInvalidRef)
	}
	canonical, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return "", fmt.Errorf("reference %q with digest %s: %v: %w", ref, d, err, ErrInvalidRef)
	}
	return reference.FamiliarString(canonical), nil
}
