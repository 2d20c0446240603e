"""The notifier: drains the outbox into Centrifugo (docs/notifier.md).

Reads the outbox table of `projections`; imports nothing of `activity` (which mounts
`notifier.cli.build_app`), and of `domain` only its error tree.
"""

from optaic_activity.domain.errors import MalformedOutboxRowError, PublisherMisconfiguredError
from optaic_activity.notifier.channels import NOTIFICATIONS_NAMESPACE, personal_channel
from optaic_activity.notifier.config import DeliveryMode, NotifierConfig
from optaic_activity.notifier.failures import Failure, FailureKind
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.publisher import CentrifugoPublisher, ConsolePublisher, Publisher
from optaic_activity.notifier.runtime import NotifierRuntime, choose_publisher
from optaic_activity.notifier.tokens import mint_connection_token
from optaic_activity.notifier.worker import BatchReport, OutboxWorker
from optaic_activity.projections.outbox import OutboxRow

__all__ = [
    "NOTIFICATIONS_NAMESPACE",
    "BatchReport",
    "Broadcast",
    "CentrifugoPublisher",
    "ConsolePublisher",
    "DeliveryMode",
    "Failure",
    "FailureKind",
    "MalformedOutboxRowError",
    "NotifierConfig",
    "NotifierMetrics",
    "NotifierRuntime",
    "OutboxRow",
    "OutboxWorker",
    "Publisher",
    "PublisherMisconfiguredError",
    "choose_publisher",
    "mint_connection_token",
    "personal_channel",
]
