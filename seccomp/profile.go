// Package seccomp builds containers' seccomp filters in the daemon:
// RuntimeDefault is Docker's default profile (github.com/moby/profiles),
// Localhost profiles are Docker or OCI JSON files under the state
// directory's seccomp/, both resolved with Docker's rules for the
// container's capabilities, the host's architecture and kernel, and
// compiled to classic BPF in pure Go. The init stages only load the
// result (package internal/seccompload).
package seccomp

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	mobyseccomp "github.com/moby/profiles/seccomp"

	"github.com/berth-project/berth/internal/seccompload"
)

// Profile types, as securityContext.seccompProfile.type names them.
const (
	RuntimeDefault = "RuntimeDefault"
	Unconfined     = "Unconfined"
	Localhost      = "Localhost"
)

// Profile selects a container's profile.
type Profile struct {
	Type string
	// Localhost is the profile's path relative to the profile directory,
	// for type Localhost.
	Localhost string
}

// ErrNoProfile is wrapped when a Localhost profile does not exist.
var ErrNoProfile = errors.New("seccomp profile not found")

// Compiler builds filters and keeps each one it compiled, by profile
// (a Localhost profile by its content), capabilities and architecture:
// pods with the same settings share one compile.
type Compiler struct {
	dir    string
	target Target

	mu    sync.Mutex
	cache map[string]*seccompload.Filter
}

// NewCompiler returns a Compiler for this host reading Localhost profiles
// from dir.
func NewCompiler(dir string) *Compiler {
	return &Compiler{dir: dir, target: Target{GOARCH: runtime.GOARCH, Kernel: hostKernel()}, cache: map[string]*seccompload.Filter{}}
}

// Dir is where Localhost profiles are read from.
func (c *Compiler) Dir() string { return c.dir }

// Filter returns the filter of profile p for a container whose bounding
// set is caps (CAP_* names); nil means no filter (Unconfined).
func (c *Compiler) Filter(p Profile, caps []string) (*seccompload.Filter, error) {
	var body []byte
	switch p.Type {
	case Unconfined:
		return nil, nil
	case RuntimeDefault:
	case Localhost:
		var err error
		if body, err = readLocalhost(c.dir, p.Localhost); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("seccomp profile type %q is not RuntimeDefault, Unconfined or Localhost", p.Type)
	}
	sorted := slices.Sorted(slices.Values(caps))
	key := fmt.Sprintf("%s %x %s %s", p.Type, sha256.Sum256(body), strings.Join(sorted, ","), c.target.GOARCH)
	c.mu.Lock()
	f, ok := c.cache[key]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	t := c.target
	t.Caps = sorted
	var err error
	if p.Type == RuntimeDefault {
		f, err = Build(mobyseccomp.DefaultProfile(), t)
	} else if f, err = Parse(body, t); err != nil {
		err = fmt.Errorf("profile %s: %w", p.Localhost, err)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache[key] = f
	c.mu.Unlock()
	return f, nil
}

// Parse builds the filter of a Docker-format (archMap, includes,
// excludes) or OCI-format (architectures) JSON profile.
func Parse(body []byte, t Target) (*seccompload.Filter, error) {
	var p mobyseccomp.Seccomp
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	return Build(&p, t)
}

// Build resolves p for t and compiles it; nil means the profile asks for
// no filter (no default action and no syscalls).
func Build(p *mobyseccomp.Seccomp, t Target) (*seccompload.Filter, error) {
	native, err := Native(t.GOARCH)
	if err != nil {
		return nil, err
	}
	spec, err := resolve(p, t)
	if err != nil || spec == nil {
		return nil, err
	}
	return compile(spec, native)
}
