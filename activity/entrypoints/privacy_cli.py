"""``activity privacy ...``: erase a subject's personal data, place and release legal holds.

Mounted by the main CLI around a runtime factory, called only when a command runs::

    app.add_typer(build_app(_runtime), name="privacy")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.errors import PrivacyKeyError
from optaic_activity.service.privacy import erase_subject, place_legal_hold, release_legal_hold

OPERATOR = UUID(int=0)
"""The actor of a privacy record made from the command line without ``--actor``."""

ActorOption = Annotated[
    UUID,
    typer.Option(help="Who does it: the recorded activity's actor (default: the nil operator)."),
]
ReasonOption = Annotated[str, typer.Option(help="Why (recorded in the activity; no personal data)")]
SubjectOption = Annotated[
    UUID | None, typer.Option("--subject", help="One principal (default: the whole tenant).")
]


def build_app(runtime_factory: Callable[[], Runtime], console: Console) -> typer.Typer:
    app = typer.Typer(
        help="Erase personal data (crypto-shredding); legal holds that refuse erasure.",
        no_args_is_help=True,
    )

    def change_hold(
        change: Callable[..., bool],
        tenant: UUID,
        subject: UUID | None,
        actor: UUID,
        reason: str,
    ) -> tuple[bool, str]:
        """Place or release a hold through ``change``; whether it changed, and what it holds."""
        runtime = runtime_factory()
        try:
            changed = change(
                runtime.app,
                runtime.engine,
                tenant,
                actor_principal_id=actor,
                subject_id=subject,
                reason=reason,
            )
        finally:
            runtime.close()
        return changed, f"principal {subject}" if subject else "the whole tenant"

    @app.command("erase")
    def erase(
        principal: Annotated[UUID, typer.Argument(help="The subject whose data to erase")],
        tenant: Annotated[
            UUID | None, typer.Option(help="Only in this tenant (default: every tenant).")
        ] = None,
        actor: ActorOption = OPERATOR,
        reason: ReasonOption = "",
    ) -> None:
        """Destroy the principal's personal-data keys: every read shows its fields erased.

        The events, the audit chain and its digests are untouched and still verify. Refused,
        changing nothing, under a legal hold or for a principal with no key (exit 1).
        """
        runtime = runtime_factory()
        try:
            # No master key needed: destroying a key does not open it.
            erasures = erase_subject(
                runtime.app,
                runtime.engine,
                principal,
                actor_principal_id=actor,
                tenant_id=tenant,
                reason=reason,
            )
        finally:
            runtime.close()
        for erasure in erasures:
            console.print(
                f"erased: principal {principal} in tenant {erasure.tenant_id}, "
                f"{len(erasure.destroyed_key_ids)} key(s) destroyed, "
                f"recorded at position {erasure.position or 'earlier'}",
                highlight=False,
                soft_wrap=True,
            )

    @app.command("hold")
    def hold(
        tenant: Annotated[UUID, typer.Argument(help="Tenant id")],
        subject: SubjectOption = None,
        actor: ActorOption = OPERATOR,
        reason: ReasonOption = "",
    ) -> None:
        """Place a legal hold: no erasure in the tenant (or of the subject) until released."""
        placed, on = change_hold(place_legal_hold, tenant, subject, actor, reason)
        state = "placed" if placed else "already in place"
        console.print(f"hold {state}: {on} in tenant {tenant}", highlight=False, soft_wrap=True)

    @app.command("release")
    def release(
        tenant: Annotated[UUID, typer.Argument(help="Tenant id")],
        subject: SubjectOption = None,
        actor: ActorOption = OPERATOR,
        reason: ReasonOption = "",
    ) -> None:
        """Release a legal hold placed with ``activity privacy hold`` (same tenant, subject)."""
        released, on = change_hold(release_legal_hold, tenant, subject, actor, reason)
        if not released:
            console.print(f"no hold on {on} in tenant {tenant}", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        console.print(f"hold released: {on} in tenant {tenant}", highlight=False, soft_wrap=True)

    @app.command("rewrap")
    def rewrap() -> None:
        """Wrap every live data key under the current master key (after a rotation)."""
        runtime = runtime_factory()
        try:
            if runtime.key_store is None:
                msg = "ACTIVITY_PRIVACY_MASTER_KEY is not set: nothing to re-wrap under"
                raise PrivacyKeyError(msg)
            count = runtime.key_store.rewrap()
        finally:
            runtime.close()
        console.print(
            f"re-wrapped {count} data key(s) under {runtime.settings.privacy.master_key_id}"
        )

    return app
