package manifestdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

var _ reconciler.Source = (*Loader)(nil)

// Loader loads a manifest directory repeatedly. It caches parsed files by
// (device, inode, size, mtime, ctime) of the file or its symlink target,
// so a re-list with no change only lists and stats, and it remembers which
// file owns each pod name so that the winner of a duplicate stays the
// winner; when nothing changed, it returns the last snapshot again. A
// Loader is safe for concurrent use; loads are serialised.
type Loader struct {
	dir string

	mu     sync.Mutex
	cache  map[string]cachedFile
	owners map[reconciler.PodKey]string
	latest *Snapshot
	// reusable: latest can stand for a Load that finds exactly the files
	// it was resolved from, unchanged (it had no unreadable file, and no
	// Seed came since).
	reusable bool
}

type cachedFile struct {
	version fileVersion
	file    *manifests.File
}

// NewLoader returns a Loader for dir. The directory need not exist yet.
func NewLoader(dir string) *Loader {
	return &Loader{dir: dir, cache: map[string]cachedFile{}, owners: map[reconciler.PodKey]string{}}
}

// Load lists and parses dir once, without remembering anything.
func Load(dir string) (*Snapshot, error) {
	return NewLoader(dir).Load()
}

// Seed records the file each running pod came from, so that after a
// daemon restart a duplicate name stays with the file that started the
// pod. Call it with the runtime's pods before the first Load; later
// ownership is kept by the Loader itself.
func (l *Loader) Seed(observed []reconciler.Observed) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range observed {
		if o.File != "" && !o.Terminating {
			l.owners[o.Key] = o.File
		}
	}
	l.reusable = false
}

// Latest returns the snapshot of the last successful Load, or nil.
func (l *Loader) Latest() *Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}

// Desired implements reconciler.Source: it loads the directory and reports
// its pods, held files and problems. An unreadable or missing directory is
// an error, so that the reconciler keeps every pod instead of deleting them.
func (l *Loader) Desired(context.Context) ([]reconciler.Desired, map[string]bool, []error, error) {
	snap, err := l.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	problems := make([]error, len(snap.Problems))
	for i, p := range snap.Problems {
		problems[i] = p
	}
	return snap.Pods, snap.Held, problems, nil
}

// Load lists the directory, parses files that changed since the last
// Load, and resolves the result into a Snapshot. Parsed documents are
// shared between snapshots and must not be modified.
func (l *Loader) Load() (*Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	// One open directory: every file is stat'ed relative to it, without
	// walking the directory's path again (half of a no-op re-list's time
	// with 10000 files was stat).
	d, err := os.Open(l.dir)
	if err != nil {
		return nil, fmt.Errorf("list manifest directory %s: %w", l.dir, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list manifest directory %s: %w", l.dir, err)
	}
	var list, misses []*entry
	for _, de := range entries {
		if !Counts(de.Name()) {
			continue
		}
		e := l.statEntry(int(d.Fd()), de.Name())
		if e == nil {
			continue
		}
		list = append(list, e)
		if e.file == nil && e.readErr == nil {
			misses = append(misses, e)
		}
	}
	if len(misses) == 0 && l.reusable && l.unchanged(list) {
		return l.latest, nil
	}
	parseAll(misses)

	l.cache = make(map[string]cachedFile, len(list))
	l.reusable = true
	files := make([]loadedFile, 0, len(list))
	for _, e := range list {
		if e.gone {
			continue
		}
		if e.file != nil {
			l.cache[e.path] = cachedFile{version: e.version, file: e.file}
		} else {
			l.reusable = false
		}
		files = append(files, e.loadedFile)
	}
	snap, owners := resolve(l.dir, files, maps.Clone(l.owners))
	l.owners = owners
	l.latest = snap
	return snap, nil
}

// unchanged reports whether list is exactly the files of the last Load,
// each at the version parsed then: every entry came from the cache, and
// there are as many as the cache holds. The snapshot is then the one that
// Load resolved, since resolving is a function of the parsed files and
// of the owners it returned itself: a no-op re-list (the daemon's
// periodic safety net) only lists and stats.
func (l *Loader) unchanged(list []*entry) bool {
	if len(list) != len(l.cache) {
		return false
	}
	for _, e := range list {
		if e.file == nil || e.gone {
			return false
		}
	}
	return true
}

// entry is a counted file during one Load.
type entry struct {
	loadedFile
	version fileVersion
	gone    bool // vanished between listing and parsing
}

// statEntry stats name in the directory dirfd (following symlinks) and
// takes its parse from the cache when the version matches. It returns nil
// for entries that do not count after all: gone, dangling symlinks,
// directories, devices, fifos.
func (l *Loader) statEntry(dirfd int, name string) *entry {
	path := filepath.Join(l.dir, name)
	v, regular, err := statAt(dirfd, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return &entry{loadedFile: loadedFile{path: path, readErr: fmt.Errorf("stat %s: %w", path, err)}}
	case !regular:
		return nil
	}
	e := &entry{loadedFile: loadedFile{path: path}, version: v}
	if c, ok := l.cache[path]; ok && c.version == e.version {
		e.file = c.file
	}
	return e
}

// parseAll parses entries concurrently, one worker per CPU: a cold start
// with a thousand files should not parse them one by one.
func parseAll(entries []*entry) {
	work := make(chan *entry)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(entries)) {
		wg.Go(func() {
			for e := range work {
				parseEntry(e)
			}
		})
	}
	for _, e := range entries {
		work <- e
	}
	close(work)
	wg.Wait()
}

func parseEntry(e *entry) {
	f, err := manifests.ParseFile(e.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.gone = true
	case err != nil:
		e.readErr = err // ParseFile names the file
	default:
		e.file = f
	}
}
