package container

import "golang.org/x/sys/unix"

// monotonic reads CLOCK_MONOTONIC in nanoseconds. Go's own monotonic
// readings are relative to the process start, so they cannot be compared
// across the init stage and its parent.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
