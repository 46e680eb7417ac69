package crilog

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rotation defaults, as the kubelet's containerLogMaxSize and
// containerLogMaxFiles.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
)

const (
	logSuffix   = ".log"
	rotatedTime = "20060102-150405.000000000"
	// modeWriting marks a file the infra may still append to, modeComplete
	// one it never will (the package doc says why).
	modeWriting  = 0o640
	modeComplete = 0o440
)

// Path is the file run `run` of a container writes to (before any
// rotation): <logDir>/<container>/<run>.log, logDir being the pod's.
func Path(logDir, container string, run int) string {
	return filepath.Join(logDir, container, Name(run))
}

// Name is the base name of run's current log file.
func Name(run int) string { return strconv.Itoa(run) + logSuffix }

// runOf is the run whose current file has base name name.
func runOf(name string) (int, bool) {
	s, ok := strings.CutSuffix(name, logSuffix)
	if !ok {
		return 0, false
	}
	run, err := strconv.Atoi(s)
	if err != nil || run < 0 || Name(run) != name {
		return 0, false
	}
	return run, true
}

// LastRun is the highest run with a current log file among names, the
// entries of a container's log directory; ok is false when there is none.
func LastRun(names []string) (run int, ok bool) {
	for _, n := range names {
		if r, isRun := runOf(n); isRun && (!ok || r > run) {
			run, ok = r, true
		}
	}
	return run, ok
}

// complete reports whether a log file's mode marks it complete: the infra
// will never write to it again.
func complete(mode uint32) bool { return mode&0o200 == 0 }

// RunFiles picks run's files from the names of a container's log
// directory and orders them as they were written: rotated files by their
// time, then the current file. Other names are ignored.
func RunFiles(names []string, run int) []string {
	base := Name(run)
	var rotated []string
	current := false
	for _, n := range names {
		switch {
		case n == base:
			current = true
		case strings.HasPrefix(n, base+"."):
			if _, err := time.Parse(rotatedTime, n[len(base)+1:]); err == nil {
				rotated = append(rotated, n)
			}
		}
	}
	// Fixed-width UTC times sort as strings.
	sort.Strings(rotated)
	if current {
		rotated = append(rotated, base)
	}
	return rotated
}

// planRotation names the file the current log of run is renamed to, given
// the run's rotated files so far (oldest first), and lists the oldest ones
// to delete so that at most maxFiles files remain, the new current one
// included. The name is always later than the last rotated one, even when
// the clock stepped back, so the order of names stays the order of writing.
func planRotation(rotated []string, run int, now time.Time, maxFiles int) (name string, remove []string) {
	base := Name(run)
	t := now.UTC()
	if n := len(rotated); n > 0 {
		if last, err := time.Parse(rotatedTime, rotated[n-1][len(base)+1:]); err == nil && !t.After(last) {
			t = last.Add(time.Nanosecond)
		}
	}
	name = base + "." + t.Format(rotatedTime)
	// Kept: maxFiles-1 rotated files plus the new current file.
	if excess := min(len(rotated)+1-(maxFiles-1), len(rotated)); excess > 0 {
		remove = append(remove, rotated[:excess]...)
	}
	return name, remove
}
