package main

import (
	"fmt"
	"strings"
)

// probePort is where the probe scenarios' workload serves HTTP.
const probePort = 8080

// probePodYAML is one pod of the probe-cost scenario: the workload serving
// HTTP, an httpGet readiness probe every second and, with exec, an exec
// liveness probe every second that appends a byte to a file of its own on
// the host's dir (so that the harness counts the exec probes that ran).
// The exec probe's timeout is 5 s, not the default 1 s, so that a loaded
// machine slows the probes down instead of restarting the containers.
func probePodYAML(name, image, dir string, exec bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: %s
    command: ["/bin/demo", "serve", "--port", "%d"]
    readinessProbe:
      httpGet:
        path: /healthz
        port: %d
      periodSeconds: 1
`, name, image, probePort, probePort)
	if exec {
		fmt.Fprintf(&b, `    livenessProbe:
      exec:
        command: ["/bin/demo", "append", "/probes/%s", "x"]
      periodSeconds: 1
      timeoutSeconds: 5
`, name)
	}
	fmt.Fprintf(&b, `    volumeMounts:
    - name: probes
      mountPath: /probes
  volumes:
  - name: probes
    hostPath:
      path: %s
      type: Directory
`, dir)
	return b.String()
}

// livenessPodYAML is the probe-restart scenario's pod: an httpGet liveness
// probe every second that fails once /tmp/unhealthy exists in the
// container (a new run's writable layer has none); a readiness probe on
// the same path tells the harness when a run serves, and the liveness
// probe's one-second initial delay keeps a run from failing before it
// listens.
func livenessPodYAML(name, image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: %s
    command: ["/bin/demo", "serve", "--port", "%d", "--unhealthy-file", "/tmp/unhealthy"]
    readinessProbe:
      httpGet:
        path: /healthz
        port: %d
      periodSeconds: 1
    livenessProbe:
      httpGet:
        path: /healthz
        port: %d
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 1
      terminationGracePeriodSeconds: 1
`, name, image, probePort, probePort, probePort)
}

// countTimeWait counts the TIME_WAIT sockets (state 06) of a
// /proc/PID/net/tcp or tcp6 table.
func countTimeWait(table string) int {
	n := 0
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 4 {
			continue // the header
		}
		if f[3] == "06" {
			n++
		}
	}
	return n
}

// countLines counts the non-empty lines of s (a /proc/PID/net/nf_conntrack
// table has one entry a line).
func countLines(s string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}
