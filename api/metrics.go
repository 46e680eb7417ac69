package api

import (
	"context"
	"fmt"
	"io"
)

// Metrics copies one scrape of the daemon's metrics, in the Prometheus text
// format, to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	resp, err := c.roundTrip(ctx, "GET", "/metrics", map[string]string{"Accept": "text/plain"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != statusOK {
		return fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	return nil
}
