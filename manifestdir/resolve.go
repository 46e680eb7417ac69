package manifestdir

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// ObjectKey names a ConfigMap or Secret.
type ObjectKey struct{ Namespace, Name string }

func (k ObjectKey) String() string { return k.Namespace + "/" + k.Name }

// Snapshot is the desired state read from the directory at one moment.
// File paths are the directory joined with the entry name.
type Snapshot struct {
	Dir string
	// Files lists the files that count, sorted.
	Files []string
	// Pods are the pods to run: valid, winners of any duplicate contest,
	// from files that are not held; sorted by key.
	Pods []reconciler.Desired
	// ConfigMaps and Secrets are the valid ones, by namespace/name.
	ConfigMaps map[ObjectKey]*manifests.ConfigMap
	Secrets    map[ObjectKey]*manifests.Secret
	// Claims are the valid PersistentVolumeClaims, by namespace/name.
	Claims map[ObjectKey]*manifests.PersistentVolumeClaim
	// Problems holds every problem (warnings included), by file.
	Problems []manifests.Problem
	// Duplicates is the subset of Problems about duplicate names.
	Duplicates []manifests.Problem
	// Held marks files that exist but have errors: their pods are not
	// started or changed, and running pods from them are kept.
	Held map[string]bool
	// Parsed holds every file that could be read, as parsed (documents
	// with errors included), by path.
	Parsed map[string]*manifests.File
}

// loadedFile is one counted file after reading: parsed, or failed to read.
type loadedFile struct {
	path    string
	file    *manifests.File
	readErr error
}

// candidate is one document that declares a pod.
type candidate struct {
	path string
	doc  *manifests.Document
}

// resolver builds a Snapshot from loaded files; it is pure.
type resolver struct {
	snap   *Snapshot
	extra  map[string][]manifests.Problem // problems found across documents, by file
	held   map[string]bool                // files held before cross-document checks
	owners map[reconciler.PodKey]string
}

// resolve builds the snapshot of files (in any order) given the previous
// pod ownership, and returns the new ownership. A key stays with the file
// that owns it while that file declares it or is held (its content is
// unknown then); otherwise the lexically first declaring file wins.
func resolve(dir string, files []loadedFile, owners map[reconciler.PodKey]string) (*Snapshot, map[reconciler.PodKey]string) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b loadedFile) int { return cmp.Compare(a.path, b.path) })
	r := &resolver{
		snap: &Snapshot{
			Dir:        dir,
			ConfigMaps: map[ObjectKey]*manifests.ConfigMap{},
			Secrets:    map[ObjectKey]*manifests.Secret{},
			Claims:     map[ObjectKey]*manifests.PersistentVolumeClaim{},
			Held:       map[string]bool{},
			Parsed:     map[string]*manifests.File{},
		},
		extra:  map[string][]manifests.Problem{},
		held:   map[string]bool{},
		owners: map[reconciler.PodKey]string{},
	}
	for _, f := range files {
		r.snap.Files = append(r.snap.Files, f.path)
		if f.file != nil {
			r.snap.Parsed[f.path] = f.file
		}
		if f.readErr != nil || f.file.HasErrors() {
			r.held[f.path] = true
		}
	}
	r.collectConfigs(files)
	winners := r.resolvePods(files, owners)
	r.finish(files, winners)
	return r.snap, r.owners
}

// collectConfigs indexes valid ConfigMaps and Secrets; the lexically first
// file declaring a name wins and the others get an error.
func (r *resolver) collectConfigs(files []loadedFile) {
	firstCM := map[ObjectKey]string{}
	firstSecret := map[ObjectKey]string{}
	firstClaim := map[ObjectKey]string{}
	for _, f := range files {
		if f.file == nil {
			continue
		}
		for _, d := range f.file.Docs {
			if d.HasErrors() {
				continue
			}
			switch {
			case d.ConfigMap != nil:
				k := objectKey(d.ConfigMap.ObjectMeta)
				if prev, dup := firstCM[k]; dup {
					r.duplicate(f.path, d.ProblemAt(manifests.Error, "metadata.name",
						fmt.Sprintf("duplicate ConfigMap %s: already declared in %s", k, prev)))
					continue
				}
				firstCM[k] = f.path
				r.snap.ConfigMaps[k] = d.ConfigMap
			case d.Secret != nil:
				k := objectKey(d.Secret.ObjectMeta)
				if prev, dup := firstSecret[k]; dup {
					r.duplicate(f.path, d.ProblemAt(manifests.Error, "metadata.name",
						fmt.Sprintf("duplicate Secret %s: already declared in %s", k, prev)))
					continue
				}
				firstSecret[k] = f.path
				r.snap.Secrets[k] = d.Secret
			case d.Claim != nil:
				k := objectKey(d.Claim.ObjectMeta)
				if prev, dup := firstClaim[k]; dup {
					r.duplicate(f.path, d.ProblemAt(manifests.Error, "metadata.name",
						fmt.Sprintf("duplicate PersistentVolumeClaim %s: already declared in %s", k, prev)))
					continue
				}
				firstClaim[k] = f.path
				r.snap.Claims[k] = d.Claim
			}
		}
	}
}

// resolvePods picks, for every pod key, the declaring document that wins,
// and reports every other one as a duplicate.
func (r *resolver) resolvePods(files []loadedFile, owners map[reconciler.PodKey]string) map[reconciler.PodKey]candidate {
	byKey := map[reconciler.PodKey][]candidate{}
	var keys []reconciler.PodKey
	for _, f := range files {
		if f.file == nil {
			continue
		}
		inFile := map[reconciler.PodKey]*manifests.Document{}
		for _, d := range f.file.Docs {
			if d.Pod == nil || d.Pod.Name == "" {
				continue
			}
			k := podKey(d.Pod)
			if first, dup := inFile[k]; dup {
				r.duplicate(f.path, d.ProblemAt(manifests.Error, "metadata.name",
					fmt.Sprintf("duplicate pod %s: already declared in this file (line %d)", k, first.Line)))
				continue
			}
			inFile[k] = d
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], candidate{path: f.path, doc: d})
		}
	}
	winners := map[reconciler.PodKey]candidate{}
	for _, k := range keys {
		if w, ok := r.pickWinner(k, byKey[k], owners[k]); ok {
			winners[k] = w
		}
	}
	// A held owner that no longer shows the key keeps it.
	for k, owner := range owners {
		if _, declared := byKey[k]; !declared && r.held[owner] {
			r.owners[k] = owner
		}
	}
	return winners
}

// pickWinner applies the ownership rule to the candidates of one key
// (sorted by file). It reports false when a held owner, whose content is
// unknown, keeps the key.
func (r *resolver) pickWinner(k reconciler.PodKey, cands []candidate, owner string) (candidate, bool) {
	winner := cands[0]
	ownerVisible := false
	for _, c := range cands {
		if c.path == owner {
			winner, ownerVisible = c, true
		}
	}
	if !ownerVisible && owner != "" && r.held[owner] {
		for _, c := range cands {
			r.duplicate(c.path, c.doc.ProblemAt(manifests.Error, "metadata.name",
				fmt.Sprintf("duplicate pod %s: owned by %s, which currently has errors", k, filepath.Base(owner))))
		}
		r.owners[k] = owner
		return candidate{}, false
	}
	for _, c := range cands {
		if c.path != winner.path {
			r.duplicate(c.path, c.doc.ProblemAt(manifests.Error, "metadata.name",
				fmt.Sprintf("duplicate pod %s: also declared in %s, which owns it", k, filepath.Base(winner.path))))
		}
	}
	r.owners[k] = winner.path
	return winner, true
}

// finish checks references of the winning pods, collects problems, decides
// which files are held, and lists the desired pods.
func (r *resolver) finish(files []loadedFile, winners map[reconciler.PodKey]candidate) {
	for _, w := range winners {
		if !w.doc.HasErrors() {
			r.extra[w.path] = append(r.extra[w.path], checkRefs(w.doc, r.snap.ConfigMaps, r.snap.Secrets)...)
		}
	}
	for _, f := range files {
		var ps []manifests.Problem
		if f.readErr != nil {
			ps = append(ps, manifests.Problem{File: f.path, Document: -1, Severity: manifests.Error,
				Message: f.readErr.Error()})
		} else {
			ps = f.file.Problems()
		}
		for _, p := range r.extra[f.path] {
			p.File = cmp.Or(p.File, f.path)
			ps = append(ps, p)
		}
		slices.SortStableFunc(ps, func(a, b manifests.Problem) int {
			return cmp.Or(cmp.Compare(a.Document, b.Document), cmp.Compare(a.Line, b.Line))
		})
		r.snap.Problems = append(r.snap.Problems, ps...)
		if r.held[f.path] || refuses(ps) {
			r.snap.Held[f.path] = true
		}
	}
	for k, w := range winners {
		if !r.snap.Held[w.path] {
			r.snap.Pods = append(r.snap.Pods, reconciler.Desired{Key: k, File: w.path, Pod: w.doc.Pod})
		}
	}
	slices.SortFunc(r.snap.Pods, func(a, b reconciler.Desired) int {
		return cmp.Or(cmp.Compare(a.Key.Namespace, b.Key.Namespace), cmp.Compare(a.Key.Name, b.Key.Name))
	})
}

// duplicate records a duplicate-name problem against file.
func (r *resolver) duplicate(file string, p manifests.Problem) {
	p.File = cmp.Or(p.File, file)
	r.extra[file] = append(r.extra[file], p)
	r.snap.Duplicates = append(r.snap.Duplicates, p)
}

func refuses(ps []manifests.Problem) bool {
	return slices.ContainsFunc(ps, manifests.Problem.Refuses)
}

func podKey(p *manifests.Pod) reconciler.PodKey {
	k := objectKey(p.ObjectMeta)
	return reconciler.PodKey{Namespace: k.Namespace, Name: k.Name}
}

func objectKey(m manifests.ObjectMeta) ObjectKey {
	return ObjectKey{Namespace: cmp.Or(m.Namespace, manifests.DefaultNamespace), Name: m.Name}
}
