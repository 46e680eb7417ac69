// Package infra is the per-pod infra ("pause") process and the daemon's
// side of talking to it.
//
// One infra runs per pod. It is berth re-executed as `berth infra
// --config-fd=3 --ready-fd=4 --listen-fd=5` (see Launch), created in the
// pod's new net, ipc and uts namespaces (and pid namespace with
// shareProcessNamespace). It holds those namespaces, sets the hostname,
// reaps zombies like kubernetes' pause.c, and is the parent of the pod's
// containers: it starts them, keeps their stdio (stdout/stderr pipes, a
// stdin pipe with stdin: true, a pty with tty: true; attach sessions join
// them) and writes the CRI log files, records exit codes, and restarts them
// per restartPolicy with back-off. The daemon can therefore restart or be
// upgraded without touching any running pod, log line or exit code; it
// re-attaches by dialing the pod's socket again.
//
// Launch handshake (daemon -> infra), on two inherited pipes and the
// control socket, which the daemon makes and the infra serves:
//
//	Launch (daemon)                          Main (infra)
//	  bind+listen(Socket), 0600
//	  pipe(config), pipe(ready)
//	  clone(NEWNET|NEWIPC|NEWUTS[|NEWPID],
//	        setsid, into cgroup v2) ------> exec berth infra
//	                                          --config-fd=3 --ready-fd=4
//	                                          --listen-fd=5
//	  write PodConfig JSON, close --[fd 3]--> read until EOF
//	                                          non-dumpable, subreaper,
//	                                          close inherited fds,
//	                                          v1: every thread joins the
//	                                          cgroups (0 to tasks) in the
//	                                          background, Start waits,
//	                                          sethostname, sysctls
//	  connect, Start request ------[fd 5]--> (queued on the socket)
//	  read until EOF  <-------------[fd 4]--- {"pid":N} or {"error":"..."}
//	                                          serve fd 5: the Start first
//
// The daemon sends the Start while the infra starts, so that it waits on
// the socket, not the infra on the daemon; it reads the answer once the
// ready record came (Client.Start's ready).
//
// Control protocol (daemon <-> infra), over the pod's path-based unix socket
// (0600, in a 0700 root directory; the infra checks SO_PEERCRED uid 0 on
// every accept, the client checks the infra is root too). One request and
// one response per connection, each a frame (after an OpAttach response
// the connection carries internal/attachio frames instead, until the
// run ends or the caller leaves):
//
//	+----------------------+---------------------------+
//	| length uint32 (BE)   | JSON (Request / Response) |
//	+----------------------+---------------------------+
//	  length <= MaxFrame (16 MiB)
//
//	client                           infra
//	  connect ----------------------> accept, check peer uid 0
//	  Request{version, op, ...} ----> run op on the supervisor loop
//	  <------------------------------ Response{version, error, status}
//	  close                           close (Shutdown: then exit)
//
// Both sides send their ProtocolVersion. Fields are only ever added, never
// renamed or re-purposed, so a newer daemon can drive an older infra (it
// reads the infra's version from the response) and an unknown op gets an
// error response instead of a dropped connection. An older daemon's
// requests are served for the same reason; one below MinDaemonVersion is
// refused with an error response that names both versions.
//
// Inside the infra everything that changes state runs on one goroutine, the
// supervisor loop: requests, SIGCHLD (wait4(-1, WNOHANG) until none),
// SIGTERM, and the restart/grace timers. An idle pod therefore blocks only in
// accept, pipe reads and the signal wait: no tickers, no polling; a timer
// exists only while a restart back-off or a stop grace period is pending.
package infra
