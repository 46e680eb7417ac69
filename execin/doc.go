// Package execin runs a process inside a running container (`berth exec`).
//
// The daemon is multi-threaded and must never setns into a mount namespace,
// so the entering is done by the CLI, which runs as root on the same host:
// it asks the daemon for an api.ExecTarget, builds a
// Config from it, and re-executes berth, from a sealed copy, as the hidden
// entry point `berth exec-init --config-fd=3 --sync-fd=4` (Main):
//
//	berth exec (Run)                      berth exec-init (Main)
//	  |  config JSON on fd 3, then EOF  ->  |  non-dumpable, lock OS thread
//	  |                                     |  join the container's cgroups
//	  |                                     |  last capability from the kernel (prctl),
//	  |                                     |    never from the container's /proc
//	  |                                     |  open /proc/PID/ns/{ipc,uts,net,pid,mnt},
//	  |                                     |    PID's start time checked before and after
//	  |                                     |  unshare(CLONE_FS), setns each (mnt last)
//	  |                                     |  resolve user and program in the container
//	  |                                     |    (passwd, group: bounded regular files)
//	  |                                     |  bounding set, no_new_privs and the seccomp
//	  |                                     |    filter on this thread (the filter before
//	  |                                     |    the bounding set without no_new_privs)
//	  |                                     |  fork the command (into the pid namespace):
//	  |                                     |    setgroups/setgid/setuid, chdir,
//	  |                                     |    [setsid + TIOCSCTTY], execve
//	  |  <- fd 4: EOF once the command runs |
//	  |  <- fd 4: SetupError JSON on failure, then exit 126 (127: not found)
//	  |  <- exit status: the command's (128+N when killed by signal N)
//
// With a terminal (-t) the CLI allocates a pseudo-terminal, hands its
// peer to exec-init as fds 0-2 (the command makes it its controlling
// terminal), puts the caller's terminal in raw mode and copies both ways,
// following window-size changes. Without -t the caller's stdio is handed
// down as it is (stdin only with -i), so stdout and stderr stay separate.
//
// The daemon's exec hooks run the same way (Output), from the lean init
// binary, which links Main too: the package takes no API type (Target) so
// that it links no HTTP or YAML code. Its exec probes run through a
// container run's exec helper (Helper): exec-init started once with
// Config.Serve, which takes the same steps up to the fork and then forks
// one command per request on its socket (serve_linux.go), so that a probe
// every period costs a fork and exec, not a Go process's start.
package execin
