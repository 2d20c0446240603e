"""The notifier: drains the outbox into Centrifugo (docs/notifier.md).

Reads the outbox table of `projections`; imports nothing of `activity` (which mounts
`notifier.cli.build_app`) nor of `domain`.
"""

from notifier.channels import NOTIFICATIONS_NAMESPACE, personal_channel
from notifier.config import DeliveryMode, NotifierConfig
from notifier.failures import Failure, FailureKind, PublisherMisconfigured
from notifier.message import Broadcast, MalformedOutboxRow, OutboxRow
from notifier.metrics import NotifierMetrics, projection_lag_gauge
from notifier.publisher import CentrifugoPublisher, ConsolePublisher, Publisher
from notifier.runtime import NotifierRuntime, choose_publisher
from notifier.tokens import mint_connection_token
from notifier.worker import BatchReport, OutboxWorker

__all__ = [
    "NOTIFICATIONS_NAMESPACE",
    "BatchReport",
    "Broadcast",
    "CentrifugoPublisher",
    "ConsolePublisher",
    "DeliveryMode",
    "Failure",
    "FailureKind",
    "MalformedOutboxRow",
    "NotifierConfig",
    "NotifierMetrics",
    "NotifierRuntime",
    "OutboxRow",
    "OutboxWorker",
    "Publisher",
    "PublisherMisconfigured",
    "choose_publisher",
    "mint_connection_token",
    "personal_channel",
    "projection_lag_gauge",
]
