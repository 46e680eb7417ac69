package images

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/atomicfile"
)

// Image garbage collection defaults, the kubelet's: collect when the
// store's file system is 85% full, down to 80%; never an image used in
// the last two minutes.
const (
	DefaultGCHigh   = 85
	DefaultGCLow    = 80
	DefaultGCMinAge = 2 * time.Minute
)

// usedEvery bounds how often a use is written to an image's record.
const usedEvery = time.Minute

// MarkUsed records that image id is used at t: the garbage collector
// removes the images used longest ago first.
func (s *Store) MarkUsed(id string, t time.Time) error {
	d := digest.Digest(id)
	if err := CheckDigest(d); err != nil {
		return err
	}
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := s.readRecord(d)
	if err != nil {
		return err
	}
	if t.Sub(rec.LastUsed) < usedEvery {
		return nil
	}
	rec.LastUsed = t.UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode image record: %w", err)
	}
	// Losing a use in a crash only makes the image look older.
	return atomicfile.Replace(s.recordPath(d), b, 0o600)
}

// GCPolicy says when images are collected and how far.
type GCPolicy struct {
	// High and Low are percentages of the store's file system: above
	// High, unused images are removed until usage is at most Low.
	High, Low int
	// MinAge spares images used or added more recently.
	MinAge time.Duration
}

// Check validates the percentages.
func (p GCPolicy) Check() error {
	if p.High < 1 || p.High > 100 || p.Low < 0 || p.Low > p.High {
		return fmt.Errorf("image GC thresholds high %d%%, low %d%%: want 0 <= low <= high <= 100, high at least 1", p.High, p.Low)
	}
	return nil
}

// Usage is how full a file system is.
type Usage struct{ Total, Used uint64 }

// Percent is Used as a percentage of Total, rounded up.
func (u Usage) Percent() int {
	if u.Total == 0 {
		return 0
	}
	return int((u.Used*100 + u.Total - 1) / u.Total)
}

// gcCandidates are the images the collector may remove, in removal order:
// not in use (by ID), not used or added within minAge of now, least
// recently used first (an image never used counts from its import).
func gcCandidates(imgs []Image, inUse map[string]bool, now time.Time, minAge time.Duration) []Image {
	var out []Image
	for _, im := range imgs {
		if !inUse[im.ID] && now.Sub(im.lastTouched()) >= minAge && now.Sub(im.Imported) >= minAge {
			out = append(out, im)
		}
	}
	slices.SortStableFunc(out, func(a, b Image) int {
		return cmp.Or(a.lastTouched().Compare(b.lastTouched()), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func (im Image) lastTouched() time.Time {
	if !im.LastUsed.IsZero() {
		return im.LastUsed
	}
	return im.Imported
}

// GC removes the partial blob downloads no pull has written for
// PartialMaxAge, then images no pod uses when the store's file system is
// fuller than p.High percent, oldest used first, until it is at most p.Low
// percent full. inUse holds the IDs of the images pods use. It returns
// the images it removed.
func (s *Store) GC(p GCPolicy, inUse map[string]bool, now time.Time) ([]Image, error) {
	if _, err := s.RemovePartials(PartialMaxAge, now); err != nil {
		return nil, err
	}
	u, err := s.Usage()
	if err != nil {
		return nil, err
	}
	if u.Percent() <= p.High {
		return nil, nil
	}
	return s.prune(inUse, now, p.MinAge, func() (bool, error) {
		u, err := s.Usage()
		return err == nil && u.Percent() <= p.Low, err
	})
}

// Prune removes every partial blob download no pull holds and every image
// no pod uses (inUse holds their IDs), and returns the images it removed.
func (s *Store) Prune(inUse map[string]bool, now time.Time) ([]Image, error) {
	if _, err := s.RemovePartials(0, now); err != nil {
		return nil, err
	}
	return s.prune(inUse, now, 0, func() (bool, error) { return false, nil })
}

func (s *Store) prune(inUse map[string]bool, now time.Time, minAge time.Duration, enough func() (bool, error)) ([]Image, error) {
	imgs, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []Image
	for _, im := range gcCandidates(imgs, inUse, now, minAge) {
		if err := s.Remove(im.ID); err != nil {
			return removed, fmt.Errorf("remove image %s: %w", im.ID, err)
		}
		removed = append(removed, im)
		if done, err := enough(); done || err != nil {
			return removed, err
		}
	}
	return removed, nil
}
