package infra

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func jsonMarshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runCmd runs a short-lived helper process to completion and returns its
// stdout (and stderr on failure).
func runCmd(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out) + string(ee.Stderr), err
	}
	return string(out), err
}

// launchWait launches an infra and waits for its start-up, as the pod
// manager does with the network set up in between.
func launchWait(cfg PodConfig, opt LaunchOptions, subcommand string) (*os.Process, error) {
	l, err := launch(cfg, opt, subcommand)
	if err != nil {
		return nil, err
	}
	if err := l.Wait(); err != nil {
		return nil, err
	}
	return l.Proc, nil
}
