// Package lazyre compiles a regular expression on first use instead of at
// package initialisation: every berth process links the packages that
// validate names, including each pod's infra and each container's init,
// which never use them, and compiled eagerly they cost those processes
// start-up time and heap.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, on its first call.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
