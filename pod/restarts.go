package pod

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// maxHashedFile bounds how much of a hostPath file is read to tell
// whether its content changed; past it, its size and times tell.
const maxHashedFile = 64 << 20

// changedDocuments lists the ConfigMaps and Secrets of two refreshes'
// references (envRefs: "configmap/NAME", "secret/NAME" to the document)
// whose content differs: their data, not the document (a file holding
// several documents gives each a new one when any of them changes).
func changedDocuments(old, cur map[string]any) []reconciler.ContentChange {
	var out []reconciler.ContentChange
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if sameContent(old[k], cur[k]) {
			continue
		}
		kind, name, _ := strings.Cut(k, "/")
		switch kind {
		case "configmap":
			out = append(out, reconciler.ContentChange{Kind: manifests.RestartOnConfigMaps, Name: name})
		case "secret":
			out = append(out, reconciler.ContentChange{Kind: manifests.RestartOnSecrets, Name: name})
		}
	}
	return out
}

func sameContent(a, b any) bool {
	switch a := a.(type) {
	case *manifests.ConfigMap:
		b, ok := b.(*manifests.ConfigMap)
		return ok && (a == b || a != nil && b != nil && reflect.DeepEqual(a.Data, b.Data) && reflect.DeepEqual(a.BinaryData, b.BinaryData))
	case *manifests.Secret:
		b, ok := b.(*manifests.Secret)
		return ok && (a == b || a != nil && b != nil && reflect.DeepEqual(a.Data, b.Data) && reflect.DeepEqual(a.StringData, b.StringData))
	}
	return a == b
}

// fileState is what the last check of a hostPath file saw: its identity,
// size and times, and a digest of its content (missing: not a regular
// file then).
type fileState struct {
	missing        bool
	dev, ino, size uint64
	mtime, ctime   int64
	sum            [sha256.Size]byte
	hashed         bool
}

// contentChanged says whether a file's content changed between two
// checks: it appeared or went, or its metadata moved and its digest (when
// both have one) differs.
func contentChanged(old, cur fileState) bool {
	if old.missing || cur.missing {
		return old.missing != cur.missing
	}
	if sameMeta(old, cur) {
		return false
	}
	if old.hashed && cur.hashed {
		return old.sum != cur.sum
	}
	return true
}

// sameMeta: same file, size and times; its content is taken as unchanged.
func sameMeta(a, b fileState) bool {
	return a.dev == b.dev && a.ino == b.ino && a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime
}

// checkHostPaths looks at the hostPath volumes of a pod whose
// berth.io/restart-on-change lists hostpaths, and returns those whose
// file changed since the last check (the first check only records them).
func checkHostPaths(p *manifests.Pod, files map[string]fileState) []reconciler.ContentChange {
	var out []reconciler.ContentChange
	for _, v := range p.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		cur := statFile(v.HostPath.Path)
		old, seen := files[v.Name]
		if seen && !old.missing && !cur.missing && sameMeta(old, cur) {
			continue
		}
		hashFile(v.HostPath.Path, &cur)
		files[v.Name] = cur
		if seen && contentChanged(old, cur) {
			out = append(out, reconciler.ContentChange{Kind: manifests.RestartOnHostPaths, Name: v.Name})
		}
	}
	return out
}

// restartOnChange restarts the containers of e that use what changed, as
// reconciler.ContentRestarts decides: the infra kills the run (a Killing
// event saying why), and the restart policy, Always (validation refuses
// the annotation otherwise), runs it again, with the new environment
// the refresh gave the infra, after its back-off. A container that does
// not run gets the new environment at its next start anyway.
func (m *Manager) restartOnChange(ctx context.Context, e *entry, changes []reconciler.ContentChange) {
	p := e.rec.Pod
	for _, r := range reconciler.ContentRestarts(p, changes) {
		msg := fmt.Sprintf("Container %s: %s (%s), will be restarted", r.Container, r.Reason, manifests.AnnotationRestartOnChange)
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.cfg.Infra.KillContainer(kctx, e.layout.Socket(), r.Container, gracePeriod(p), msg)
		cancel()
		switch {
		case err == nil:
			m.cfg.Log.Info("restarting container for a changed reference", "pod", key(p), "container", r.Container, "why", r.Reason)
		case strings.Contains(err.Error(), "not running"):
		default:
			m.cfg.Log.Warn("restart container for a changed reference", "pod", key(p), "container", r.Container, "err", err)
			m.event(p, r.Container, kube.EventWarning, kube.EventFailed, "restart for "+r.Reason+": "+err.Error())
		}
	}
}
