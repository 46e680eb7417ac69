package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Interface is one network interface's counters from /proc/<pid>/net/dev.
type Interface struct {
	Name             string
	RxBytes, TxBytes uint64
}

// parseNetDev reads the counters of interface want from /proc/<pid>/net/dev:
// two header lines, then "name: rx_bytes rx_packets ... (8 receive
// fields) tx_bytes ...". Only the pod's own interface is reported: the
// other interfaces of its namespace (loopback, which cAdvisor leaves out
// too, and any a container with CAP_NET_ADMIN makes, under names of its
// choosing) would each be series of their own, as many as a container
// likes. ok is false when the namespace has no such interface.
func parseNetDev(data, want string) (i Interface, ok bool, err error) {
	_, data, ok1 := strings.Cut(data, "\n")
	_, data, ok2 := strings.Cut(data, "\n")
	if !ok1 || !ok2 {
		return Interface{}, false, errors.New("net/dev: want the two header lines at least")
	}
	for data != "" {
		var line string
		line, data, _ = strings.Cut(data, "\n")
		name, rest, found := strings.Cut(line, ":")
		if !found || strings.TrimSpace(name) != want {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			return Interface{}, false, fmt.Errorf("net/dev line %q: %d counters, want 16", line, len(f))
		}
		rx, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return Interface{}, false, fmt.Errorf("net/dev %s receive bytes: %w", want, err)
		}
		tx, err := strconv.ParseUint(f[8], 10, 64)
		if err != nil {
			return Interface{}, false, fmt.Errorf("net/dev %s transmit bytes: %w", want, err)
		}
		return Interface{Name: want, RxBytes: rx, TxBytes: tx}, true, nil
	}
	return Interface{}, false, nil
}
