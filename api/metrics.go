package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// MetricsBackend is a Backend that also serves Prometheus metrics; Handler
// routes GET /metrics to it.
type MetricsBackend interface {
	MetricsHandler() http.Handler
}

// Metrics copies one scrape of the daemon's metrics, in the Prometheus text
// format, to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://berth/metrics", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("talk to the berth daemon at %s (is `berth daemon` running? set --socket or BERTH_SOCKET): %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	return nil
}
