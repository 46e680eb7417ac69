//go:build !berthlean

package api

import (
	"net/http"
)

// MetricsBackend is a Backend that also serves Prometheus metrics; Handler
// routes GET /metrics to it.
type MetricsBackend interface {
	MetricsHandler() http.Handler
}
