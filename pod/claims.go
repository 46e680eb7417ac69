package pod

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/volumes"
)

// ErrClaimHeld is a pod refused because another pod holds a
// ReadWriteOncePod claim it uses.
var ErrClaimHeld = errors.New("claim held by another pod")

// prepareClaims makes the pod's claims' volumes ready (they outlive it:
// no undo), after refusing a ReadWriteOncePod claim another pod holds. A
// volume made for the first time gets a ProvisioningSucceeded event, a
// declared size no quota enforces a ClaimSizeNotEnforced warning.
func (m *Manager) prepareClaims(c *podRun) error {
	p := c.rec.Pod
	if len(volumes.ClaimsOf(p)) == 0 {
		return nil
	}
	if err := m.checkOncePod(c, p); err != nil {
		return err
	}
	set, notes, err := m.cfg.Volumes.PrepareClaims(volumes.ClaimsDir(m.cfg.StateDir), p, c.objs.Claims)
	if err != nil {
		return fmt.Errorf("prepare claims: %w", err)
	}
	for name, v := range set {
		c.vols[name] = v
	}
	for _, cr := range notes.Created {
		m.event(p, "", kube.EventNormal, kube.EventProvisioningSucceeded, cr.Message())
	}
	for _, u := range notes.Unlimited {
		m.event(p, "", kube.EventWarning, kube.EventClaimSizeNotEnforced, u.Message())
	}
	return nil
}

// claimUser is a pod that uses claims: created (or adopted), or being
// created since at.
type claimUser struct {
	id      string
	pod     *manifests.Pod
	created bool
	at      time.Time
}

// checkOncePod refuses the pod of c when another pod, created or being
// created before it, uses one of its ReadWriteOncePod claims.
func (m *Manager) checkOncePod(c *podRun, p *manifests.Pod) error {
	m.mu.Lock()
	var others []claimUser
	for id, e := range m.pods {
		others = append(others, claimUser{id: id, pod: e.rec.Pod, created: true})
	}
	for id, cr := range m.creating {
		others = append(others, claimUser{id: id, pod: cr.pod, at: cr.at})
	}
	m.mu.Unlock()
	me := claimUser{id: c.id, pod: p, at: c.rec.Created}
	if k, holder, ok := oncePodConflict(me, others, c.objs.Claims); ok {
		return fmt.Errorf("claim %s is ReadWriteOncePod and pod %s/%s uses it: %w", k, holder.Namespace, holder.Name, ErrClaimHeld)
	}
	return nil
}

// oncePodConflict finds a ReadWriteOncePod claim (by decls) of me that
// another pod holds: one created, or being created since before me (the
// pod id breaks a tie), so that of two pods started together exactly one
// goes ahead.
func oncePodConflict(me claimUser, others []claimUser, decls map[string]*manifests.PersistentVolumeClaim) (volumes.ClaimKey, *manifests.Pod, bool) {
	for _, u := range volumes.ClaimsOf(me.pod) {
		if !manifests.ClaimOncePod(decls[u.Claim.Name]) {
			continue
		}
		for _, o := range others {
			if o.id == me.id {
				continue
			}
			first := o.created || o.at.Before(me.at) || o.at.Equal(me.at) && o.id < me.id
			if first && slices.ContainsFunc(volumes.ClaimsOf(o.pod), func(ou volumes.ClaimUse) bool { return ou.Claim == u.Claim }) {
				return u.Claim, o.pod, true
			}
		}
	}
	return volumes.ClaimKey{}, nil, false
}

// ClaimUsers lists the pods (namespace/name) whose records under stateDir
// name claim k, for `berth volume rm` without the daemon. A pod's record
// is written before its volumes are prepared and removed after its
// teardown, so a pod being created or removed counts.
func ClaimUsers(stateDir string, k volumes.ClaimKey) ([]string, error) {
	users, err := ClaimsUsers(stateDir)
	return users[k], err
}

// ClaimsUsers is ClaimUsers for every claim at once, from one read of the
// records (`berth volume ls`).
func ClaimsUsers(stateDir string) (map[volumes.ClaimKey][]string, error) {
	recs, err := storedRecords(stateDir)
	if err != nil {
		return nil, err
	}
	users := map[volumes.ClaimKey][]string{}
	for _, rec := range recs {
		seen := map[volumes.ClaimKey]bool{}
		for _, u := range volumes.ClaimsOf(rec.Pod) {
			if !seen[u.Claim] {
				seen[u.Claim] = true
				users[u.Claim] = append(users[u.Claim], rec.Pod.Namespace+"/"+rec.Pod.Name)
			}
		}
	}
	return users, nil
}
