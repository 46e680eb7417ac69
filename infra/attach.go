package infra

import (
	"errors"
	"fmt"
)

// ErrAttachRefused is wrapped by the reasons an attach is refused: the
// container's spec does not allow what the caller asked for.
var ErrAttachRefused = errors.New("attach refused")

// attachRefusal says why a run of c cannot serve an attach that asks for
// input (stdin) or a terminal (tty), or nil. stdinClosed: the run's stdin
// was closed after its first session (stdinOnce). The messages say, as
// kubectl's do, which field of the spec is missing and how to attach
// instead.
func attachRefusal(c *ContainerConfig, stdin, tty, stdinClosed bool) error {
	switch {
	case tty && !c.TTY:
		return fmt.Errorf("%w: unable to use a TTY: container %s did not allocate one (its spec has no tty: true); attach without -t", ErrAttachRefused, c.Name)
	case stdin && !c.Stdin:
		return fmt.Errorf("%w: container %s takes no input (its spec has no stdin: true); attach without -i", ErrAttachRefused, c.Name)
	case stdin && stdinClosed:
		return fmt.Errorf("%w: the stdin of container %s was closed when its first attach session ended (stdinOnce: true); it opens again when the container restarts; attach without -i", ErrAttachRefused, c.Name)
	}
	return nil
}
