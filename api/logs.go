package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

// LogOptions are the query of GET /v1/pods/{ns}/{name}/log, as kubectl
// logs takes them.
type LogOptions struct {
	// Container may be empty when the pod has one container.
	Container string
	// Follow keeps streaming, into the container's next runs, until the
	// pod is deleted or the client goes away.
	Follow bool
	// Previous reads the run before the current one.
	Previous bool
	// Timestamps prefixes each line with its RFC3339Nano time.
	Timestamps bool
	// Tail is how many of the last lines to print; negative means all.
	Tail int
	// Since, when positive, skips lines older than that.
	Since time.Duration
}

// ErrBadRequest marks a request that cannot be served as asked (no
// container named when the pod has several, no previous run, ...).
var ErrBadRequest = errors.New("bad request")

// logQuery is the inverse of parseLogQuery.
func logQuery(o LogOptions) url.Values {
	q := url.Values{}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	for key, b := range map[string]bool{"follow": o.Follow, "previous": o.Previous, "timestamps": o.Timestamps} {
		if b {
			q.Set(key, "true")
		}
	}
	if o.Tail >= 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	if o.Since > 0 {
		q.Set("since", o.Since.String())
	}
	return q
}

// Logs streams a container's log lines to w until the log ends (or, when
// following, until the pod is deleted or ctx is done).
func (c *Client) Logs(ctx context.Context, namespace, name string, opts LogOptions, w io.Writer) error {
	resp, err := c.do(ctx, "GET", podPath(namespace, name)+"/log?"+logQuery(opts).Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decode(resp, nil)
	}
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs of pod %s/%s: %w", namespace, name, err)
	}
	return nil
}
