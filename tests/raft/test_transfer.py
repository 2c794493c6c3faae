"""Leadership transfer (thesis §3.10): catch the target up, then TimeoutNow makes it campaign
at once, past the other voters' leader lease."""

from __future__ import annotations

import contextlib

import pytest

from eventlog.errors import ConfigError, ProposalDropped
from eventlog.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Message,
    TimeoutNow,
    TransferLeadershipRequest,
)
from eventlog.raft.ready import Role
from eventlog.types import NodeId
from tests.raft.harness import Network

ELECTION = 15


def timeout_nows(net: Network) -> list[int]:
    """Positions in ``net.delivered`` of the TimeoutNow messages."""
    return [i for i, m in enumerate(net.delivered) if isinstance(m, TimeoutNow)]


def test_transfer_to_an_up_to_date_follower() -> None:
    """Thesis §3.10: an up-to-date target gets TimeoutNow and wins the next term at once."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"a")
    net.delivered.clear()
    net.core(1).transfer_leadership(NodeId(2))
    net.stabilize()
    assert net.leaders() == [2]
    assert net.core(2).term == 2
    assert all(net.core(n).leader == 2 and net.core(n).term == 2 for n in (1, 2, 3))
    assert len(timeout_nows(net)) == 1
    net.propose(2, b"b")
    for node in (1, 2, 3):
        assert net.host(node).applied_data == [b"a", b"b"]


def test_transfer_requested_on_a_follower_is_forwarded() -> None:
    """Thesis §3.10: any server may ask; a follower passes the request to the leader."""
    net = Network.create(3)
    net.elect(1)
    net.core(3).transfer_leadership(NodeId(3))
    net.stabilize()
    assert net.leaders() == [3] and net.core(3).term == 2


def test_transfer_to_a_lagging_follower_catches_it_up_first() -> None:
    """Thesis §3.10 step 1: the leader brings the target's log up to date before TimeoutNow."""
    net = Network.create(3)
    net.elect(1)

    def starve_3(m: Message) -> bool:
        return isinstance(m, AppendEntries) and m.dst == 3

    net.drop = starve_3
    net.propose(1, b"x", b"y")
    net.propose(1, b"z")
    assert net.core(3).log.last_index() == 1
    net.heal()
    net.delivered.clear()
    net.core(1).transfer_leadership(NodeId(3))
    net.stabilize()
    assert net.leaders() == [3] and net.core(3).term == 2
    assert net.host(3).applied_data == [b"x", b"y", b"z"]
    # 3 acknowledged the leader's last entry before it was told to campaign.
    [timeout_at] = timeout_nows(net)
    caught_up = [
        i
        for i, m in enumerate(net.delivered)
        if isinstance(m, AppendEntriesResponse) and m.src == 3 and not m.reject and m.index == 4
    ]
    assert caught_up and caught_up[0] < timeout_at


def test_proposals_during_a_transfer_are_dropped() -> None:
    """Thesis §3.10: the leader stops accepting client requests while it hands over."""
    net = Network.create(3)
    net.elect(1)
    net.isolate(3)
    net.propose(1, b"before")
    net.core(1).transfer_leadership(NodeId(3))
    with pytest.raises(ProposalDropped):
        net.core(1).propose(b"during")
    assert net.core(1).log.last_index() == 2
    net.heal()
    net.tick_all(3)  # a heartbeat round catches 3 up; then it takes over
    assert net.leaders() == [3]
    for node in (1, 2, 3):
        assert net.host(node).applied_data == [b"before"]


def test_transfer_that_cannot_finish_is_aborted_after_an_election_timeout() -> None:
    """Thesis §3.10: a transfer unfinished after an election timeout is aborted; serving resumes."""
    net = Network.create(3)
    net.elect(1)
    net.isolate(3)
    net.core(1).transfer_leadership(NodeId(3))
    net.tick_all(ELECTION - 1, nodes=[1, 2])
    with pytest.raises(ProposalDropped):
        net.core(1).propose(b"still-transferring")
    net.tick_all(1, nodes=[1, 2])
    assert net.core(1).role is Role.LEADER and net.core(1).term == 1
    assert net.core(1).transferee == 0
    net.propose(1, b"after")
    assert net.host(1).applied_data == net.host(2).applied_data == [b"after"]
    net.heal()
    net.tick_all(2 * ELECTION)
    assert net.leaders() == [1] and net.core(1).term == 1
    assert net.host(3).applied_data == [b"after"]


def test_transfer_target_campaigns_past_the_leader_lease() -> None:
    """Thesis §3.10/§4.2.3: votes for a transfer are not blocked by the leader lease."""
    net = Network.create(5)
    net.elect(1)
    net.core(1).transfer_leadership(NodeId(4))
    net.stabilize()
    assert net.leaders() == [4]
    assert {net.core(n).vote for n in (2, 3, 5)} == {4}


def test_transfer_to_a_non_voter_raises() -> None:
    """Thesis §3.10: only a voter can take over."""
    net = Network.create(3)
    net.elect(1)
    with pytest.raises(ConfigError):
        net.core(1).transfer_leadership(NodeId(9))
    net.propose(1, b"ok")
    assert net.host(1).applied_data == [b"ok"]


def test_forwarded_transfer_to_a_non_voter_does_not_break_the_leader() -> None:
    """Thesis §3.10 with STYLE 5.3(5): a bad request from a peer is dropped, never raised."""
    net = Network.create(3)
    net.elect(1)
    with contextlib.suppress(ConfigError):  # refusing it on the follower is fine too
        net.core(2).transfer_leadership(NodeId(9))
    net.stabilize()
    # The same request arriving from a peer, as an older or buggy follower would send it.
    leader = net.core(1)
    leader.step(
        TransferLeadershipRequest(src=NodeId(2), dst=NodeId(1), term=leader.term, target=NodeId(9))
    )
    net.stabilize()
    assert net.leaders() == [1]
    assert leader.transferee == 0
    net.propose(1, b"ok")
    assert net.host(2).applied_data == [b"ok"]
