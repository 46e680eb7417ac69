package images

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platform is the os/arch[/variant] an image is chosen for from an image
// index or manifest list.
type Platform struct {
	OS           string
	Architecture string
	// Variant is the CPU variant ("v7" for arm); empty matches any.
	Variant string
}

// DefaultPlatform is the node's own: linux and the architecture berth was
// built for, any variant.
func DefaultPlatform() Platform {
	return Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform reads "os/arch" or "os/arch/variant", as docker pull
// --platform does.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, such as linux/arm64 or linux/arm/v7", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.OS != "linux" {
		return Platform{}, fmt.Errorf("platform %q: only linux images run on berth: %w", s, ErrUnsupported)
	}
	return p, nil
}

func (p Platform) String() string {
	if p.Variant != "" {
		return p.OS + "/" + p.Architecture + "/" + p.Variant
	}
	return p.OS + "/" + p.Architecture
}

// Matches reports whether an index entry's platform is p. arm64's only
// variant, v8, is the same as none, as containerd normalises it.
func (p Platform) Matches(q *ocispec.Platform) bool {
	if q == nil || q.OS != p.OS || q.Architecture != p.Architecture {
		return false
	}
	return p.Variant == "" || normVariant(p.Architecture, p.Variant) == normVariant(q.Architecture, q.Variant)
}

func normVariant(arch, v string) string {
	if arch == "arm64" && v == "v8" {
		return ""
	}
	return v
}

// Choose returns the first entry of an index for p.
func (p Platform) Choose(descs []ocispec.Descriptor) (ocispec.Descriptor, bool) {
	for _, d := range descs {
		if p.Matches(d.Platform) {
			return d, true
		}
	}
	return ocispec.Descriptor{}, false
}
