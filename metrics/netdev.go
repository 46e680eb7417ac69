package metrics

import (
	"fmt"
	"strconv"
	"strings"
)

// Interface is one network interface's counters from /proc/<pid>/net/dev.
type Interface struct {
	Name             string
	RxBytes, TxBytes uint64
}

// parseNetDev parses /proc/<pid>/net/dev: two header lines, then
// "name: rx_bytes rx_packets ... (8 receive fields) tx_bytes ...". The
// loopback interface is left out, as cAdvisor does.
func parseNetDev(data string) ([]Interface, error) {
	lines := strings.Split(data, "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("net/dev: %d lines, want the two header lines at least", len(lines))
	}
	var out []Interface
	for _, line := range lines[2:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("net/dev line %q: want \"name: counters\"", line)
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if len(f) < 16 {
			return nil, fmt.Errorf("net/dev line %q: %d counters, want 16", line, len(f))
		}
		rx, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("net/dev %s receive bytes: %w", name, err)
		}
		tx, err := strconv.ParseUint(f[8], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("net/dev %s transmit bytes: %w", name, err)
		}
		if name != "lo" {
			out = append(out, Interface{Name: name, RxBytes: rx, TxBytes: tx})
		}
	}
	return out, nil
}
