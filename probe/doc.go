// Package probe runs a container's liveness, readiness and startup probes
// with the kubelet's semantics: the checkers (httpGet, tcpSocket, grpc, and
// exec through an Execer the wiring supplies), the dialer that opens their
// sockets inside the pod's network namespace, and the per-container state
// machine that turns probe runs into results after the thresholds.
//
// The daemon runs them: package pod starts a Runner per container with
// probes for as long as the pod exists (pod/probes.go).
//
// Layout:
//
//	result.go    Result, Type, Report, the kubelet's event wording
//	checker.go   Checker, Target, NewChecker
//	spec.go      Spec from a manifests.Probe, with the kubelet's defaults
//	state.go     the pure state machine of one container's probes
//	runner.go    the loop that drives it on a Clock and calls the checkers
//	port.go      named and numeric port resolution (pure)
//	http.go      httpGet
//	tcp.go       tcpSocket
//	grpc.go      grpc.health.v1 over h2c; grpcwire.go its hand-made wire format
//	exec.go      exec, through the Execer interface
//	dial.go      the Dialer interface and the socket options every probe uses
//	dial_linux.go the dialer that creates sockets in a network namespace
package probe
