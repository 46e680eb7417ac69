// Package deps states berth's import layering as data and checks it against
// the import graph `go list -deps -json` reports for the builds berth ships.
package deps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/berth-project/berth"

// A rule names the packages it covers and what they must never reach.
type rule struct {
	// pkgs are package paths relative to the module; "dir/..." covers every
	// package below dir.
	pkgs []string
	// except are covered packages the rule leaves out, with the reason.
	except map[string]string
	why    string
	// never are import paths (each with every package below it) that must
	// not be in the dependency closure of a covered package.
	never []string
	// noDirect are standard-library packages the standard library itself
	// may use (os uses syscall), but no other package in the closure may
	// import.
	noDirect []string
	// internalOnly: of this module, only packages under internal/ (and the
	// covered package itself) may be in the closure.
	internalOnly bool
	// tags is the build tag the rule's build is made with ("" for none).
	tags string
}

var kernelFacing = []string{
	"golang.org/x/sys/unix",
	"github.com/vishvananda/netlink",
	"github.com/vishvananda/netns",
	"github.com/containerd/cgroups",
	"github.com/google/nftables",
	"os/exec",
}

var rules = []rule{
	{
		pkgs:     []string{"manifests", "reconciler", "downward"},
		why:      "manifest decoding, validation, the downward API values and the reconcile plan are pure decisions, tested without root",
		never:    kernelFacing,
		noDirect: []string{"syscall"},
	},
	{
		pkgs: []string{"cmd/berth-init"},
		why:  "the lean init binary every pod's infra and container init run from stays small and starts fast",
		never: []string{
			"net/http",
			"gopkg.in/yaml.v3",
			"github.com/spf13/cobra",
			"github.com/google/nftables",
			"github.com/vishvananda/netlink",
			"github.com/fsnotify/fsnotify",
			"github.com/google/go-containerregistry",
			"regexp",
			// metrics: the daemon's alone, with its protobuf dependency
			"github.com/prometheus/client_golang",
			"google.golang.org/protobuf",
		},
	},
	{
		pkgs: []string{"pod"},
		why: "the runtime returns its own views; the daemon turns them into the API's shapes and into " +
			"metrics, and the API and metrics are the HTTP edge",
		never: []string{module + "/api", module + "/metrics", "github.com/prometheus/client_golang"},
	},
	{
		pkgs:         []string{"kube"},
		why:          "the vocabulary the infra, the runtime and the API share is a leaf every layer may import",
		internalOnly: true,
		never:        []string{"net/http", "gopkg.in/yaml.v3"},
	},
	{
		pkgs: []string{"cmd/berth"},
		why: "every CLI verb pays the package initialisation of the whole binary: these compile regular " +
			"expressions at init (images parses references itself, compiling on first use)",
		never: []string{"github.com/distribution/reference"},
	},
	{
		pkgs: []string{"cmd/berth"},
		tags: "berthlean",
		why: "the lean build runs the client verbs, and each of their starts pays the package " +
			"initialisation of everything it links: the runtime, the daemon, the image store and the " +
			"metrics are the full build's, which it executes for the other verbs; net/http (and with it " +
			"crypto/tls, x509 and HTTP/2) is the API server's, the client speaks HTTP/1.1 itself",
		never: []string{
			"net/http",
			"crypto/tls",
			module + "/pod",
			module + "/daemon",
			module + "/images",
			module + "/metrics",
			module + "/netsetup",
			module + "/registry",
			"github.com/containerd/cgroups",
			"github.com/google/nftables",
			"github.com/vishvananda/netlink",
			"github.com/google/go-containerregistry",
			"github.com/klauspost/compress",
			"github.com/opencontainers/go-digest",
			"github.com/prometheus",
			"google.golang.org/protobuf",
		},
	},
	{
		pkgs: []string{"internal/..."},
		except: map[string]string{
			"internal/hostclean": "test and bench support: removes what a throw-away daemon left, through volumes",
			"internal/testutil":  "test support: packs the test workload as an image, through images",
		},
		why:          "internal packages are the bottom layer every domain package may use",
		internalOnly: true,
	},
}

// pkg is the part of `go list -json` output the rules need.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

func TestImportRules(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool lists the import graph and is not in PATH: %v", err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			graphs := map[string]map[string]pkg{}
			for _, r := range rules {
				graph, ok := graphs[r.tags]
				if !ok {
					if graph, err = listGraph(goTool, arch, r.tags); err != nil {
						t.Fatal(err)
					}
					graphs[r.tags] = graph
				}
				for _, problem := range r.check(graph) {
					t.Error(problem)
				}
			}
		})
	}
}

// listGraph returns every package of the module and its dependencies, as
// the static linux/arch build with tags sees them.
func listGraph(goTool, arch, tags string) (map[string]pkg, error) {
	cmd := exec.Command(goTool, "list", "-tags="+tags, "-deps", "-json=ImportPath,Imports,Deps,Standard", module+"/...")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps for linux/%s: %w: %s", arch, err, stderr.String())
	}
	graph := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		graph[p.ImportPath] = p
	}
	return graph, nil
}

// covered returns the module's packages the rule applies to, relative to
// the module.
func (r rule) covered(graph map[string]pkg) []string {
	var out []string
	for path := range graph {
		rel, ok := strings.CutPrefix(path, module+"/")
		if !ok || r.except[rel] != "" {
			continue
		}
		for _, pattern := range r.pkgs {
			if dir, ok := strings.CutSuffix(pattern, "/..."); ok && under(rel, dir) || rel == pattern {
				out = append(out, rel)
			}
		}
	}
	slices.Sort(out)
	return out
}

// check returns one line per broken rule: which package reaches what,
// through which imports.
func (r rule) check(graph map[string]pkg) []string {
	var problems []string
	for _, pattern := range r.pkgs {
		if len(rule{pkgs: []string{pattern}, except: r.except}.covered(graph)) == 0 {
			problems = append(problems, fmt.Sprintf("rule for %s covers no package: the layout changed, update the rule", pattern))
		}
	}
	for rel := range r.except {
		if _, ok := graph[module+"/"+rel]; !ok {
			problems = append(problems, fmt.Sprintf("exception %s names no package: drop it", rel))
		}
	}
	for _, rel := range r.covered(graph) {
		root := module + "/" + rel
		closure := append([]string{root}, graph[root].Deps...)
		for _, dep := range closure {
			if slices.ContainsFunc(r.never, func(bad string) bool { return under(dep, bad) }) {
				problems = append(problems, fmt.Sprintf("%s reaches %s (%s): %s", rel, dep, r.why, chain(graph, root, dep)))
			}
			if rest, ok := strings.CutPrefix(dep, module+"/"); ok && r.internalOnly && dep != root && !under(rest, "internal") {
				problems = append(problems, fmt.Sprintf("%s reaches %s (%s): %s", rel, rest, r.why, chain(graph, root, dep)))
			}
			if p := graph[dep]; !p.Standard {
				for _, imp := range p.Imports {
					if slices.Contains(r.noDirect, imp) {
						problems = append(problems, fmt.Sprintf("%s reaches %s, which imports %s (%s): %s", rel, short(dep), imp, r.why, chain(graph, root, dep)))
					}
				}
			}
		}
	}
	return problems
}

// under reports whether path is dir or a package below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// chain returns a shortest import path from one package to another, for
// the failure message.
func chain(graph map[string]pkg, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append(path, short(p))
			}
			slices.Reverse(path)
			return strings.Join(path, " -> ")
		}
		for _, imp := range graph[cur].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return short(to)
}

// short drops the module prefix from one of its packages' paths.
func short(path string) string {
	return strings.TrimPrefix(path, module+"/")
}
