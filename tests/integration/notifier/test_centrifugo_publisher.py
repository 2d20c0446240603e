"""CentrifugoPublisher against the real Centrifugo: delivery, per-channel errors, idempotency."""

from __future__ import annotations

import uuid

import pytest

from optaic_activity.domain.errors import PublisherMisconfiguredError
from optaic_activity.notifier.failures import FailureKind
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.publisher import CentrifugoPublisher
from tests.integration.notifier.realtime import PersonalInbox
from tests.support.services import CentrifugoServer, free_port

pytestmark = pytest.mark.centrifugo


def publisher_for(server: CentrifugoServer) -> CentrifugoPublisher:
    return CentrifugoPublisher(server.api_url, server.api_key, timeout_seconds=5)


def note(n: int) -> dict[str, object]:
    return {"activity_id": f"a-{n}", "reasons": ["owner"]}


def test_a_batch_of_broadcasts_reaches_the_subscribed_principal_in_order(
    centrifugo_server: CentrifugoServer,
) -> None:
    alice = str(uuid.uuid4())
    key = uuid.uuid4().hex
    with PersonalInbox(centrifugo_server, alice) as inbox:
        outcomes = publisher_for(centrifugo_server).publish(
            [Broadcast((inbox.channel,), note(n), f"{key}:{n}") for n in range(5)]
        )

        assert outcomes == [None] * 5
        assert inbox.drain_with_sentinel() == [note(n) for n in range(5)]


def test_a_repeated_broadcast_with_the_same_idempotency_key_is_delivered_once(
    centrifugo_server: CentrifugoServer,
) -> None:
    alice = str(uuid.uuid4())
    with PersonalInbox(centrifugo_server, alice) as inbox:
        broadcast = Broadcast((inbox.channel,), note(1), f"retry-{uuid.uuid4()}")
        publisher = publisher_for(centrifugo_server)

        assert publisher.publish([broadcast]) == [None]
        assert publisher.publish([broadcast, Broadcast((inbox.channel,), note(2), "other")]) == [
            None,
            None,
        ]
        assert inbox.drain_with_sentinel() == [note(1), note(2)]


def test_an_unknown_channel_fails_its_broadcast_permanently_and_the_others_still_go_out(
    centrifugo_server: CentrifugoServer,
) -> None:
    alice = str(uuid.uuid4())
    with PersonalInbox(centrifugo_server, alice) as inbox:
        outcomes = publisher_for(centrifugo_server).publish(
            [
                Broadcast((inbox.channel, "nosuchnamespace:x"), note(1), uuid.uuid4().hex),
                Broadcast((inbox.channel,), note(2), uuid.uuid4().hex),
            ]
        )

        failure = outcomes[0]
        assert failure is not None
        assert failure.kind is FailureKind.PERMANENT
        assert failure.error == "nosuchnamespace:x: centrifugo error 102 (unknown channel)"
        assert failure.channels == frozenset({"nosuchnamespace:x"}), "the other one was delivered"
        assert outcomes[1] is None
        # Per-channel errors do not stop the broadcast's other channels.
        assert inbox.drain_with_sentinel() == [note(1), note(2)]


def test_a_command_refused_as_a_whole_inside_a_batch_fails_only_its_own_broadcast(
    centrifugo_server: CentrifugoServer,
) -> None:
    alice = str(uuid.uuid4())
    with PersonalInbox(centrifugo_server, alice) as inbox:
        outcomes = publisher_for(centrifugo_server).publish(
            [
                Broadcast((inbox.channel,), note(1), uuid.uuid4().hex),
                Broadcast((), note(2), uuid.uuid4().hex),  # Centrifugo: 107 bad request
                Broadcast((inbox.channel,), note(3), uuid.uuid4().hex),
            ]
        )

        assert outcomes[0] is None
        assert outcomes[2] is None
        assert outcomes[1] is not None
        assert outcomes[1].kind is FailureKind.PERMANENT
        assert "107" in outcomes[1].error
        assert outcomes[1].channels is None, "refused as a whole: no channel was delivered"
        assert inbox.drain_with_sentinel() == [note(1), note(3)]


def test_a_wrong_api_key_is_a_misconfiguration_not_a_row_failure(
    centrifugo_server: CentrifugoServer,
) -> None:
    publisher = CentrifugoPublisher(centrifugo_server.api_url, "wrong-key")

    with pytest.raises(PublisherMisconfiguredError, match="401"):
        publisher.publish([Broadcast(("notifications:#x",), note(1), "k")])


def test_an_unreachable_centrifugo_is_a_transient_failure_for_every_broadcast() -> None:
    publisher = CentrifugoPublisher(f"http://127.0.0.1:{free_port()}/api", "key")

    outcomes = publisher.publish(
        [Broadcast(("notifications:#x",), note(n), f"k{n}") for n in range(3)]
    )

    assert [o.kind if o else None for o in outcomes] == [FailureKind.TRANSIENT] * 3
