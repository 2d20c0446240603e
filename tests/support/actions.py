"""Envelope-only actions for tests: no aggregate emits them, so an envelope may record them.

An envelope may not claim a state change (``resource.updated``, ``signal.promoted``, ...:
``StateChangeActionError``). These stand in for them in histories that record envelopes,
named so that each preference path is still taken: the default ``mutations`` patterns
(``promotion.*``, ``transfer.*``), custom patterns (``signal.*``, ``resource.*``,
``*.created``, ``role_binding.*``, ``*.[!r]*``) and actions that no pattern names.
"""

from __future__ import annotations

from optaic_activity.domain import CATALOG

ENVELOPE_TEST_ACTIONS = (
    "signal.noted",
    "promotion.commented",
    "promotion.acknowledged",
    "resource.viewed",
    "report.created",
    "transfer.noted",
    "monitoring.viewed",
    "role_binding.audited",
)
CATALOG.extend(ENVELOPE_TEST_ACTIONS, group="test envelopes")
MANDATORY_TEST_ACTION = "monitoring.paged"
"""An envelope action of a category (``monitoring``) a tenant may make mandatory."""
CATALOG.register(MANDATORY_TEST_ACTION, group="test envelopes", category="monitoring")
