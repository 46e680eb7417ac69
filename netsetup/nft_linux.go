package netsetup

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

func (n *Network) nftTable() *nftables.Table {
	return &nftables.Table{Name: n.plan.table, Family: nftables.TableFamilyIPv4}
}

func (n *Network) hostportsChain() *nftables.Chain {
	return &nftables.Chain{Name: chainHostports, Table: n.nftTable()}
}

// ensureTable creates berth's table and chains if missing and rewrites the
// fixed rules of the base chains, all in one transaction. Adding an existing
// table or chain is not an error in nftables; one of another type is.
func (n *Network) ensureTable() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	t := c.AddTable(n.nftTable())
	for _, ch := range basePlan(n.plan) {
		chain := c.AddChain(&nftables.Chain{
			Name: ch.name, Table: t, Type: ch.typ, Hooknum: ch.hook, Priority: ch.priority,
		})
		if ch.hook == nil {
			continue
		}
		c.FlushChain(chain)
		for _, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: r})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("set up nftables table ip %s: %w", n.plan.table, err)
	}
	return nil
}

// hostportRules lists the hostPort rules berth wrote, with their owner and
// mapping. A missing table means there are none.
func (n *Network) hostportRules(c *nftables.Conn) ([]ownedRule, error) {
	rules, err := c.GetRules(n.nftTable(), n.hostportsChain())
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list rules of chain %s in table ip %s: %w", chainHostports, n.plan.table, err)
	}
	var out []ownedRule
	for _, r := range rules {
		if podID, h, ok := parseRuleComment(commentOf(r)); ok {
			out = append(out, ownedRule{rule: r, podID: podID, port: h})
		}
	}
	return out, nil
}

type ownedRule struct {
	rule  *nftables.Rule
	podID string
	port  hostPort
}

// portConflict lists berth's hostPort rules and returns the first clash of
// hps with another pod's, as a *PortConflictError. Preconditions: n.mu held,
// or a check whose answer is only advice (claim checks again).
func (n *Network) portConflict(c *nftables.Conn, podID string, hps []hostPort) ([]ownedRule, error) {
	existing, err := n.hostportRules(c)
	if err != nil {
		return nil, err
	}
	held := map[string][]hostPort{}
	for _, r := range existing {
		held[r.podID] = append(held[r.podID], r.port)
	}
	return existing, checkConflicts(podID, hps, held)
}

// replacePortRules installs podID's hostPort rules; leftovers of an earlier
// attempt for podID (existing, from portConflict) are replaced in the same
// transaction. Preconditions: n.mu held, and portConflict passed under it.
func (n *Network) replacePortRules(c *nftables.Conn, existing []ownedRule, podID string, podIP netip.Addr, hps []hostPort) error {
	for _, r := range existing {
		if r.podID == podID {
			if err := c.DelRule(r.rule); err != nil {
				return fmt.Errorf("delete stale hostPort rule %s: %w", r.port, err)
			}
		}
	}
	chain := n.hostportsChain()
	for _, h := range hps {
		c.AddRule(&nftables.Rule{
			Table: chain.Table, Chain: chain,
			Exprs:    dnatRule(podIP, h),
			UserData: commentData(ruleComment(podID, h)),
		})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("install hostPort rules in table ip %s: %w", n.plan.table, err)
	}
	n.forgetUDPFlows(hps)
	return nil
}

// forgetUDPFlows clears the conntrack entries of the UDP host ports in hps
// after their rules changed. Failing to does not fail the pod: only clients
// that never pause sending keep reaching the previous owner.
func (n *Network) forgetUDPFlows(hps []hostPort) {
	if err := clearUDPConntrack(hps); err != nil {
		n.log.Warn("UDP flows to changed host ports may still reach their previous pod", "err", err)
	}
}

// deletePortRules removes the hostPort rules of every pod for which match
// is true. Preconditions: n.mu held.
func (n *Network) deletePortRules(match func(podID string) bool) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	existing, err := n.hostportRules(c)
	if err != nil {
		return err
	}
	var removed []hostPort
	for _, r := range existing {
		if match(r.podID) {
			if err := c.DelRule(r.rule); err != nil {
				return fmt.Errorf("delete hostPort rule %s of pod %s: %w", r.port, r.podID, err)
			}
			removed = append(removed, r.port)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete hostPort rules in table ip %s: %w", n.plan.table, err)
	}
	n.forgetUDPFlows(removed)
	return nil
}
