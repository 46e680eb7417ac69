package infra

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Log rotation defaults, as kubelet's containerLogMaxSize and
// containerLogMaxFiles.
const (
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 5
)

// A run's log files, in the order they were written:
//
//	<run>.log.<UTC time>   rotated out, oldest first (kubelet's naming; the
//	                       time has a fixed-width nanosecond fraction so that
//	                       several rotations in one second sort too)
//	<run>.log              the file being written
//
// A file is 0640 while the infra may still append to it and 0440 once it
// never will (rotated out, or the run's output ended), so that a reader
// following it knows when to move on to the next file or run.
const (
	logSuffix       = ".log"
	rotatedTime     = "20060102-150405.000000000"
	logModeWriting  = 0o640
	logModeComplete = 0o440
)

// LogPath is the file run `run` of a container writes to (before any
// rotation): <logDir>/<container>/<run>.log, logDir being the pod's.
func LogPath(logDir, container string, run int) string {
	return filepath.Join(logDir, container, LogName(run))
}

// LogName is the base name of run's current log file.
func LogName(run int) string { return strconv.Itoa(run) + logSuffix }

// LogComplete reports whether a log file's mode marks it complete: the
// infra will never write to it again.
func LogComplete(mode uint32) bool { return mode&0o200 == 0 }

// RunLogFiles picks run's files from the names of a container's log
// directory and orders them as they were written: rotated files by their
// time, then the current file. Other names are ignored.
func RunLogFiles(names []string, run int) []string {
	base := LogName(run)
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
	base := LogName(run)
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
