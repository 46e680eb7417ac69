// Package reexec holds what berth's re-executed entry points (infra,
// container-init, exec-init) share: their fd flags, config decoding, named
// setup steps whose failure travels back to the parent, and joining v1
// cgroups (cgroups_linux.go).
package reexec

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// MaxConfig bounds the config a parent hands over.
const MaxConfig = 16 << 20

// StepError is a failed setup step; the step's name is reported to the
// parent with the error.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Step runs fn and names its failure.
func Step(name string, fn func() error) error {
	if err := fn(); err != nil {
		return &StepError{Step: name, Err: err}
	}
	return nil
}

// Describe splits err into the step that failed (fallback when err names
// none) and the message to report.
func Describe(err error, fallback string) (step, message string) {
	var se *StepError
	if errors.As(err, &se) {
		return se.Step, se.Err.Error()
	}
	return fallback, err.Error()
}

// ParseFds reads the --config-fd and --sync-fd flags of the entry point
// named cmd: distinct fds above stdio.
func ParseFds(cmd string, args []string) (configFd, syncFd int, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&configFd, "config-fd", -1, "fd the config JSON is read from")
	fs.IntVar(&syncFd, "sync-fd", -1, "fd failures are reported on")
	if err := fs.Parse(args); err != nil {
		return 0, 0, err
	}
	if configFd < 3 || syncFd < 3 || configFd == syncFd {
		return 0, 0, fmt.Errorf("need distinct --config-fd and --sync-fd above 2, got %d and %d", configFd, syncFd)
	}
	return configFd, syncFd, nil
}

// DecodeConfig decodes the JSON config from f strictly (unknown fields are
// an error: parent and child are the same binary) and closes f.
func DecodeConfig(f *os.File, v any) error {
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, MaxConfig))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}

// NameProcess names the calling process name (the kernel keeps its first
// 15 bytes), as ps, top, pidof and the journal show it. A process run from
// a memfd or an fd path would otherwise be named after the fd's number.
// It writes /proc/self/comm, which names the thread group leader, not
// PR_SET_NAME, which names the calling thread: under Go's scheduler that
// need not be the leader.
func NameProcess(name string) error {
	if err := os.WriteFile("/proc/self/comm", []byte(name), 0); err != nil {
		return fmt.Errorf("set process name %q: %w", name, err)
	}
	return nil
}
