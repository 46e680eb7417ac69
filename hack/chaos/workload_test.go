package main

import (
	"math/rand/v2"
	"testing"

	"github.com/berth-project/berth/manifests"
)

// TestManifestsValid parses every shape and policy with berth's own
// decoder and validation: a manifest the daemon refused would never
// converge and the run would blame the daemon.
func TestManifestsValid(t *testing.T) {
	for k := range kinds {
		for _, pol := range policies {
			s := &slot{name: "chaos-x-1", kind: k, policy: pol, gen: 3, labels: 2, port: 40000}
			f := manifests.Parse("p.yaml", []byte(s.manifest("berth.test/demo:latest")))
			if len(f.Problems()) > 0 || len(f.Docs) != 1 || f.Docs[0].Pod == nil {
				t.Fatalf("%s/%s: problems %v\n%s", k, pol, f.Problems(), s.manifest("x"))
			}
			p := f.Docs[0].Pod
			if p.Name != s.name || p.Labels["chaos-labels"] != "2" || string(p.Spec.RestartPolicy) != pol {
				t.Errorf("%s/%s: decoded %s labels %v policy %s", k, pol, p.Name, p.Labels, p.Spec.RestartPolicy)
			}
			for _, c := range p.Spec.Containers {
				if len(c.Env) != 1 || c.Env[0].Value != "3" {
					t.Errorf("%s/%s: container %s env %v, want CHAOS_GEN=3", k, pol, c.Name, c.Env)
				}
			}
		}
	}
}

// TestEditsChangeWhatTheySay checks, over many random edits, that a spec
// edit changes the spec and a label edit only the labels, as berth's own
// comparison sees them: the convergence check relies on the difference.
func TestEditsChangeWhatTheySay(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	slots := newSlots(6, "chaos-t")
	port := 40000
	ports := func() (int, error) { port++; return port, nil }
	seen := map[edit]int{}
	for range 500 {
		before := map[string]string{}
		for _, s := range slots {
			if s.present {
				before[s.name] = s.manifest("img")
			}
		}
		s, e, err := nextEdit(r, slots, ports)
		if err != nil {
			t.Fatal(err)
		}
		seen[e]++
		switch e {
		case create:
			if _, ok := before[s.name]; ok || !s.present {
				t.Fatalf("create of %s: was present %v, now %v", s.name, ok, s.present)
			}
			if s.kind == hostPort && s.port != port {
				t.Errorf("created %s on port %d, want the new port %d", s.name, s.port, port)
			}
		case remove:
			if s.present {
				t.Fatalf("delete of %s left it present", s.name)
			}
		case editSpec, editLabels:
			a, b := decode(t, before[s.name]), decode(t, s.manifest("img"))
			if manifests.SpecEqual(a, b) != (e == editLabels) {
				t.Errorf("%s of %s: specs equal %v", e, s.name, manifests.SpecEqual(a, b))
			}
			if (a.Labels["chaos-labels"] == b.Labels["chaos-labels"]) != (e == editSpec) {
				t.Errorf("%s of %s: labels %v -> %v", e, s.name, a.Labels, b.Labels)
			}
		}
	}
	for e := create; e <= remove; e++ {
		if seen[e] == 0 {
			t.Errorf("500 edits made no %s", e)
		}
	}
}

func decode(t *testing.T, y string) *manifests.Pod {
	t.Helper()
	f := manifests.Parse("p.yaml", []byte(y))
	if len(f.Docs) != 1 || f.Docs[0].Pod == nil {
		t.Fatalf("no pod in\n%s", y)
	}
	return f.Docs[0].Pod
}
