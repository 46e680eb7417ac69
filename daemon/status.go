package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/berth-project/berth/pod"
	"github.com/berth-project/berth/reconciler"
)

// statusMax bounds the STATUS= line: `systemctl status` shows it on one
// line, and an error can be long.
const statusMax = 200

// statusText is the daemon's one-line status for systemd (STATUS=, shown
// by `systemctl status berth`): the pods running and failing, and the
// last error: the newest failed create's, or else the reconciler's first
// problem (an invalid manifest, a failed action).
func statusText(s pod.Summary, problems []error) string {
	text := fmt.Sprintf("%d %s running, %d failing", s.Running, plural(s.Running, "pod", "pods"), s.Failing)
	// A failed action's pod is counted as failing already.
	manifest := 0
	for _, p := range problems {
		if !errors.As(p, new(reconciler.Failure)) {
			manifest++
		}
	}
	if manifest > 0 {
		text += fmt.Sprintf(", %d manifest %s", manifest, plural(manifest, "problem", "problems"))
	}
	last := s.LastFailure
	if last == "" && len(problems) > 0 {
		last = problems[0].Error()
	}
	if last != "" {
		text += "; last error: " + strings.Join(strings.Fields(last), " ")
	}
	if r := []rune(text); len(r) > statusMax {
		text = string(r[:statusMax-1]) + "…"
	}
	return text
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// statusNotifier sends STATUS= when the text changes, not at every pass.
// It is used from the reconcile loop only.
type statusNotifier struct {
	last string
	send func(state string) error
	log  *slog.Logger
}

func (n *statusNotifier) update(text string) {
	if text == n.last {
		return
	}
	n.last = text
	if err := n.send("STATUS=" + text); err != nil {
		n.log.Warn("sd_notify STATUS failed", "err", err)
	}
}
