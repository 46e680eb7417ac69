// Package homenetns holds the daemon's own network namespace, which a
// thread that entered a pod's namespace returns to.
package homenetns

import (
	"sync"

	"github.com/vishvananda/netns"
)

// home is opened by the first Get and kept for the process's life: one
// file descriptor for every user, not one per pod or per call.
var home struct {
	sync.Mutex
	ns     netns.NsHandle
	opened bool
}

// Get returns the process's own network namespace. Its caller is not
// locked to its thread, so the thread is in that namespace: no goroutine
// runs elsewhere unlocked.
func Get() (netns.NsHandle, error) {
	home.Lock()
	defer home.Unlock()
	if !home.opened {
		ns, err := netns.Get()
		if err != nil {
			return netns.None(), err
		}
		home.ns, home.opened = ns, true
	}
	return home.ns, nil
}
