package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/pod"
)

// imageGCPeriod is how often the image store's usage is checked, besides
// after each pull.
const imageGCPeriod = time.Minute

// imageGC is the kubelet's image garbage collection: when the store's
// file system passes the high threshold, images that no pod uses are
// removed, oldest used first, down to the low threshold.
type imageGC struct {
	store    *images.Store
	policy   images.GCPolicy
	stateDir string
	latest   func() *manifestdir.Snapshot
	events   *eventLog
	log      *slog.Logger
	kick     chan struct{}
}

func (g *imageGC) poke() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

func (g *imageGC) run(ctx context.Context) {
	t := time.NewTicker(imageGCPeriod)
	defer t.Stop()
	for {
		g.once(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-g.kick:
		}
	}
}

// ImagesInUse are the IDs of the images (of containers and image volumes)
// of every pod that has a record under stateDir (running, or kept as the
// last good version), of the last good specs those records would roll
// back to, and of every pod the manifests of snap want (snap may be nil):
// what image garbage collection and `berth image prune` never remove.
func ImagesInUse(store *images.Store, stateDir string, snap *manifestdir.Snapshot) (map[string]bool, error) {
	ids, err := pod.ImagesInUse(stateDir)
	if err != nil {
		return nil, err
	}
	named, err := pod.LastGoodPods(stateDir)
	if err != nil {
		return nil, err
	}
	if snap != nil {
		for _, d := range snap.Pods {
			named = append(named, d.Pod)
		}
	}
	for _, p := range named {
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			if img, err := store.Get(c.Image); err == nil {
				ids[img.ID] = true
			}
		}
		for _, v := range p.Spec.Volumes {
			if v.Image == nil {
				continue
			}
			if img, err := store.Get(v.Image.Reference); err == nil {
				ids[img.ID] = true
			}
		}
	}
	return ids, nil
}

func (g *imageGC) once(now time.Time) {
	snap := g.latest()
	if snap == nil {
		// Not before the manifests are read: they name images too.
		return
	}
	// Whatever the usage: a pull that is never tried again would keep
	// its partial blob downloads for ever.
	if n, err := g.store.RemovePartials(images.PartialMaxAge, now); err != nil {
		g.log.Warn("removing idle partial blob downloads", "err", err)
	} else if n > 0 {
		g.log.Info("removed idle partial blob downloads", "count", n, "idle_for", images.PartialMaxAge)
	}
	before, err := g.store.Usage()
	if err == nil && before.Percent() <= g.policy.High {
		// Below the threshold GC removes nothing: the pods' records
		// and the store's images need not be read every period.
		return
	}
	inUse, err := ImagesInUse(g.store, g.stateDir, snap)
	if err != nil {
		g.log.Warn("image garbage collection skipped", "err", err)
		return
	}
	removed, err := g.store.GC(g.policy, inUse, now)
	for _, im := range removed {
		g.events.add(api.Event{Time: now.UTC(), Type: api.EventNormal, Reason: "ImageGCRemoved", Object: "images",
			Message: fmt.Sprintf("Removed unused image %s (%s, %d bytes): the image store's file system was %d%% full, above the %d%% threshold",
				imageName(im), im.ID, im.Size, before.Percent(), g.policy.High)})
	}
	if err != nil {
		g.events.add(api.Event{Time: now.UTC(), Type: api.EventWarning, Reason: "ImageGCFailed", Object: "images",
			Message: fmt.Sprintf("Image garbage collection failed: %v", err)})
	}
	if len(removed) > 0 {
		after, _ := g.store.Usage()
		g.log.Info("image garbage collection", "removed", len(removed), "percent_before", before.Percent(), "percent_after", after.Percent())
	}
}

func imageName(im images.Image) string {
	if len(im.Refs) > 0 {
		return im.Refs[0]
	}
	return im.ID
}
