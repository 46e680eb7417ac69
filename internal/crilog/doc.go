// Package crilog owns berth's container logs in the CRI log format, the
// one the kubelet reads: writing them (in the infra), rotating them,
// reading them back for `berth logs` (in the daemon: in order, --tail,
// --previous, --follow across rotations and restarts) and the tail the
// infra takes for a FallbackToLogsOnError termination message.
//
// A record is one line:
//
//	2026-01-02T15:04:05.000000000Z stdout F a full line
//	2026-01-02T15:04:05.000000000Z stderr P first 16 KiB of a long line
//
// A container's logs live in one directory, one set of files per run (the
// run is the container's restart count when it started):
//
//	<run>.log.<UTC time>   rotated out, oldest first (the kubelet's naming;
//	                       the time has a fixed-width nanosecond fraction so
//	                       that several rotations in one second sort too)
//	<run>.log              the file being written
//
// A file is 0640 while the infra may still append to it and 0440 once it
// never will (rotated out, or the run's output ended), so that a reader
// following it knows when to move on to the next file or run.
//
// It is internal: only berth's infra and daemon write and read these
// files, and the infra links it into the lean init binary, so it imports
// nothing but the standard library and x/sys/unix (no fsnotify: a
// follower watches the directory with inotify itself).
package crilog
