package consensus

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// AddMember adds a voting member and records its API address, the way etcd
// adds a learner first. Leader only.
//
//  1. An ID that is a member with other addresses, or a raft or API address
//     another member has, is ErrMemberConflict and changes nothing.
//  2. The new member joins as a non-voter: it receives the log but counts
//     for no quorum, so an unreachable address cannot cost the cluster its
//     leader.
//  3. The leader asks it (with a raft heartbeat, whose answer carries the
//     member's last log index) until it holds every entry the leader had when
//     it joined; then it is promoted to voter. If that does not happen before
//     ctx ends (ApplyTimeout without a deadline), the answer is
//     ErrMemberNotCaughtUp and it stays a non-voter.
//
// Adding a member that already is a voter with the same addresses only
// records its API address; adding a non-voter again resumes at step 3.
func (n *Node) AddMember(ctx context.Context, p Peer) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	if p.ID == "" || p.RaftAddr == "" {
		return fmt.Errorf("%w: a member needs an ID and a raft address", ErrInvalidCommand)
	}
	existing, err := n.checkNewMember(p)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		defer cancel()
	}
	if existing == nil || existing.Suffrage != raft.Voter {
		if existing == nil {
			if err := n.await(ctx, n.raft.AddNonvoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, n.cfg.ApplyTimeout)); err != nil {
				return err
			}
		}
		if err := n.recordMember(ctx, p); err != nil {
			return err
		}
		if err := n.waitCaughtUp(ctx, p, n.raft.LastIndex()); err != nil {
			return err
		}
		if err := n.await(ctx, n.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, n.cfg.ApplyTimeout)); err != nil {
			return err
		}
	}
	return n.recordMember(ctx, p)
}

// checkNewMember applies AddMember's conflict rules; it returns the raft
// server with p's ID, nil when there is none.
func (n *Node) checkNewMember(p Peer) (*raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.translate(err)
	}
	var existing *raft.Server
	for _, s := range f.Configuration().Servers {
		switch {
		case string(s.ID) == p.ID && string(s.Address) != p.RaftAddr:
			return nil, fmt.Errorf("%w: %q is already a member with raft address %s, not %s; remove it first to move it", ErrMemberConflict, p.ID, s.Address, p.RaftAddr)
		case string(s.ID) == p.ID:
			existing = &s
		case string(s.Address) == p.RaftAddr:
			return nil, fmt.Errorf("%w: raft address %s belongs to member %q", ErrMemberConflict, p.RaftAddr, s.ID)
		}
	}
	for _, m := range n.fsm.memberList() {
		switch {
		case p.APIAddr == "":
		case m.ID == p.ID && m.APIAddr != "" && m.APIAddr != p.APIAddr && existing != nil:
			return nil, fmt.Errorf("%w: %q is already a member with API address %s, not %s; remove it first to move it", ErrMemberConflict, p.ID, m.APIAddr, p.APIAddr)
		case m.ID != p.ID && m.APIAddr == p.APIAddr:
			return nil, fmt.Errorf("%w: API address %s belongs to member %q", ErrMemberConflict, p.APIAddr, m.ID)
		}
	}
	return existing, nil
}

// recordMember writes p's API address unless the metadata has it already.
func (n *Node) recordMember(ctx context.Context, p Peer) error {
	if m, ok := n.fsm.member(p.ID); ok && m.APIAddr == p.APIAddr && m.RaftAddr == p.RaftAddr {
		return nil
	}
	_, err := n.Write(ctx, &MemberCommand{ID: p.ID, RaftAddr: p.RaftAddr, APIAddr: p.APIAddr})
	return err
}

// waitCaughtUp asks p for its last log index until it reaches target.
func (n *Node) waitCaughtUp(ctx context.Context, p Peer, target uint64) error {
	var last uint64
	var lastErr error
	for {
		last, lastErr = n.probe(ctx, p)
		if lastErr == nil && last >= target {
			return nil
		}
		if !n.IsLeader() {
			return n.notLeader()
		}
		select {
		case <-ctx.Done():
			why := fmt.Sprintf("it holds log index %d of %d", last, target)
			if lastErr != nil {
				why = "it does not answer: " + lastErr.Error()
			}
			return fmt.Errorf("%w: %s is a non-voter, %s; start it (or fix its address) and add it again to promote it, or remove it: %w",
				ErrMemberNotCaughtUp, p.ID, why, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe sends p a raft heartbeat from this leader and returns the last log
// index p answers with. A heartbeat changes nothing on p beyond what the
// leader's own heartbeats do.
func (n *Node) probe(ctx context.Context, p Peer) (uint64, error) {
	local := n.trans.LocalAddr()
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(n.cfg.NodeID), Addr: []byte(local)},
		Term:      n.term(),
		Leader:    n.trans.EncodePeer(raft.ServerID(n.cfg.NodeID), local),
	}
	type answer struct {
		last uint64
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		var resp raft.AppendEntriesResponse
		err := n.trans.AppendEntries(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), req, &resp)
		ch <- answer{resp.LastLog, err}
	}()
	select {
	case a := <-ch:
		return a.last, a.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// RemoveServer removes a member and forgets its API address. Leader only.
// Removing a voter is refused with ErrWouldLoseQuorum when the voters left
// would not have a reachable majority (each asked with a raft heartbeat).
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	if err := n.checkQuorumWithout(ctx, id); err != nil {
		return err
	}
	if err := n.await(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout)); err != nil {
		return err
	}
	if !n.IsLeader() { // the leader removed itself
		return nil
	}
	_, err := n.Write(ctx, &MemberCommand{ID: id, Remove: true})
	return err
}

// checkQuorumWithout fails with ErrWouldLoseQuorum unless the voters other
// than id include a reachable majority of themselves.
func (n *Node) checkQuorumWithout(ctx context.Context, id string) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.translate(err)
	}
	var rest []raft.Server
	removingVoter := false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if string(s.ID) == id {
			removingVoter = true
			continue
		}
		rest = append(rest, s)
	}
	if !removingVoter || len(rest) == 0 {
		return nil // a non-voter, an unknown id (raft answers), or the last voter
	}
	reachable := 0
	var down []string
	for _, s := range rest {
		if string(s.ID) == n.cfg.NodeID {
			reachable++
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := n.probe(pctx, Peer{ID: string(s.ID), RaftAddr: string(s.Address)})
		cancel()
		if err != nil {
			down = append(down, string(s.ID))
			continue
		}
		reachable++
	}
	if need := len(rest)/2 + 1; reachable < need {
		return fmt.Errorf("%w: removing %s leaves %d voters, of which %d answer (%v do not); a quorum needs %d. Bring a member back first",
			ErrWouldLoseQuorum, id, len(rest), reachable, down, need)
	}
	return nil
}
