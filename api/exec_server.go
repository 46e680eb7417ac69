//go:build !berthlean

package api

import (
	"context"
	"errors"
	"net/http"
)

// ExecBackend is the part of Backend that serves exec targets.
type ExecBackend interface {
	// ExecTarget returns how to enter container ctr of a pod ("" picks
	// the only container). Errors wrap ErrNotFound for a missing pod or
	// container, ErrNotRunning for a container that does not run.
	ExecTarget(ctx context.Context, namespace, name, ctr string) (ExecTarget, error)
}

// execTarget serves GET /v1/pods/{ns}/{name}/exec-target[?container=C].
// Only root may ask: the answer holds the container's environment, secret
// values included, and entering a container needs root anyway, while the
// socket may be open to a group (--socket-group).
func (s *server) execTarget(w http.ResponseWriter, r *http.Request) {
	if uid, err := peerUID(r.Context()); err != nil || uid != 0 {
		s.fail(w, http.StatusForbidden, errors.Join(errors.New("berth exec needs root"), err))
		return
	}
	ns, name := r.PathValue("ns"), r.PathValue("name")
	t, err := s.b.ExecTarget(r.Context(), ns, name, r.URL.Query().Get("container"))
	if err != nil {
		s.failWith(w, err)
		return
	}
	writeJSON(w, t)
}
