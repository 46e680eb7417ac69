package execin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// outputDrain bounds how long the output is still read once the command
// exited, when something it started keeps its output open.
const outputDrain = 100 * time.Millisecond

// Output runs the command of cfg in its container as `berth exec` does
// (the same exec-init, from exe, a sealed binary that has its entry
// point), with no input, and returns its exit status and the first max
// bytes of its output, stdout and stderr together. It is the daemon's exec
// probe. A command that could not be run in the container (not found,
// setup refused) returns exec-init's exit status and its reason as the
// output, as a shell reports it. When ctx ends first, the command and
// exec-init are killed and the error wraps ctx's.
func Output(ctx context.Context, exe string, cfg Config, max int) (int, []byte, error) {
	// exec-init dies (Pdeathsig) when the thread that started it exits:
	// keep this one until it is waited for.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, nil, fmt.Errorf("output pipe: %w", err)
	}
	defer outR.Close()
	cmd, cfgW, syncR, err := startInit(exe, Options{Config: cfg, Out: outW, Err: outW}, nil)
	outW.Close()
	if err != nil {
		return 0, nil, err
	}
	stop := context.AfterFunc(ctx, func() { killTree(cmd.Process.Pid) })
	defer stop()
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(outR, int64(max)))
		io.Copy(io.Discard, outR)
		read <- b
	}()
	if err := sendConfig(cfgW, cfg); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, nil, err
	}
	setupErr := readSync(syncR)
	werr := cmd.Wait()
	outR.SetReadDeadline(time.Now().Add(outputDrain))
	out := <-read
	if ctx.Err() != nil {
		return 0, out, fmt.Errorf("exec %s: %w", strings.Join(cfg.Args, " "), ctx.Err())
	}
	var se *SetupError
	switch {
	case errors.As(setupErr, &se):
		return se.ExitCode(), []byte(se.Error()), nil
	case setupErr != nil:
		return 0, out, setupErr
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return 0, out, fmt.Errorf("wait for %s: %w", InitSubcommand, werr)
	}
	return ExitCode(ws.Exited(), ws.ExitStatus(), ws.Signaled(), int(ws.Signal())), out, nil
}

// killTree kills exec-init's children (the command, forked into the
// container's pid namespace, which SIGKILL to exec-init would not reach),
// then exec-init. It runs at a timeout only.
func killTree(pid int) {
	for _, child := range childrenOf(pid) {
		syscall.Kill(child, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// childrenOf returns the PIDs whose parent is pid, found by their parent
// PID in /proc: /proc/PID/task/TID/children needs a kernel option not
// every host has.
func childrenOf(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if f := strings.Fields(string(b[i+1:])); i >= 0 && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(st))); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}
