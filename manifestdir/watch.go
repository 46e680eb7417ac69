package manifestdir

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults for WatchOptions.
const (
	DefaultDebounce = 100 * time.Millisecond
	DefaultResync   = 20 * time.Second
)

// WatchOptions tunes Watch. Zero values select the defaults.
type WatchOptions struct {
	// Debounce is the quiet time after the last event before notifying;
	// a continuous stream of events still notifies every 10 Debounce.
	Debounce time.Duration
	// Resync is the period of the safety-net re-list, which also re-adds
	// the watch if the directory was removed and re-created.
	Resync time.Duration
	// Log receives watch failures; nil discards them.
	Log *slog.Logger
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	if o.Resync <= 0 {
		o.Resync = DefaultResync
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Watch calls notify whenever dir may have changed, until ctx ends. It
// watches the directory itself (never single files: editors and the
// ConfigMap "..data" swap replace files), debounces bursts of events,
// and re-lists every Resync as the source of truth, since fsnotify is
// only a hint. notify is called once at the start (covering changes made
// before the watch was in place), never concurrently, and with repeated
// triggers coalesced; it should be quick (a non-blocking send to a
// channel with a buffer of one). Creating dir is the caller's job; while
// it is missing, Watch keeps re-listing and adds the watch once it
// appears. Without inotify, Watch falls back to re-listing alone.
func Watch(ctx context.Context, dir string, opt WatchOptions, notify func()) {
	opt = opt.withDefaults()
	w := &watcher{dir: filepath.Clean(dir), opt: opt}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		opt.Log.Warn("file watching unavailable, relying on periodic re-list", "dir", dir, "err", err)
	} else {
		defer fsw.Close()
		w.fsw = fsw
		w.ensureWatch()
	}
	notify()
	w.loop(ctx, notify)
}

type watcher struct {
	dir      string
	opt      WatchOptions
	fsw      *fsnotify.Watcher // nil without inotify
	watching bool
}

// ensureWatch adds the directory watch if it is not in place.
func (w *watcher) ensureWatch() {
	if w.fsw == nil || w.watching {
		return
	}
	if err := w.fsw.Add(w.dir); err != nil {
		w.opt.Log.Debug("cannot watch manifest directory yet", "dir", w.dir, "err", err)
		return
	}
	w.watching = true
	w.opt.Log.Debug("watching manifest directory", "dir", w.dir)
}

func (w *watcher) loop(ctx context.Context, notify func()) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	resync := time.NewTicker(w.opt.Resync)
	defer resync.Stop()
	timer := time.NewTimer(w.opt.Debounce)
	timer.Stop()
	defer timer.Stop()
	deb := debouncer{delay: w.opt.Debounce, maxWait: 10 * w.opt.Debounce}

	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.dirGone(ev)
			if relevant(ev.Name) {
				if d, reset := deb.event(time.Now()); reset {
					timer.Reset(d)
				}
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow lost events: re-list at once instead of waiting.
			w.opt.Log.Warn("manifest directory watch error", "dir", w.dir, "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				deb.fired()
				notify()
			}
		case <-timer.C:
			deb.fired()
			notify()
		case <-resync.C:
			w.ensureWatch()
			notify()
		}
	}
}

// dirGone notes that the watched directory itself was removed or renamed
// away; the watch is dropped and re-added by a later re-list.
func (w *watcher) dirGone(ev fsnotify.Event) {
	if filepath.Clean(ev.Name) != w.dir || !ev.Has(fsnotify.Remove|fsnotify.Rename) {
		return
	}
	// After a rename the kernel watch follows the moved directory: drop it.
	// After a removal it is already gone and Remove reports that; either
	// way there is nothing to handle.
	_ = w.fsw.Remove(w.dir)
	w.watching = false
}

// relevant reports whether an event for path can change the desired
// state. Editor swap and backup files cannot; dotfiles can (the ConfigMap
// "..data" symlink swap changes what pod.yaml points to).
func relevant(path string) bool {
	return !isEditorFile(filepath.Base(path))
}

// debouncer decides when a burst of events has settled: delay after the
// last event, but no later than maxWait after the first.
type debouncer struct {
	delay, maxWait time.Duration
	first          time.Time
	pending        bool
}

// event records an event at now and returns the timer delay to set, or
// false to leave the running timer alone (the burst has waited maxWait).
func (d *debouncer) event(now time.Time) (time.Duration, bool) {
	if !d.pending {
		d.pending, d.first = true, now
		return d.delay, true
	}
	left := d.maxWait - now.Sub(d.first)
	if left <= 0 {
		return 0, false
	}
	return min(d.delay, left), true
}

// fired records that notify ran, ending the burst.
func (d *debouncer) fired() { d.pending = false }
