"""``POST/GET /subscriptions`` and ``DELETE /subscriptions/{id}``: explicit opt-ins."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import NOT_FOUND, ApiProblem
from optaic_activity.api.schemas import Subscription, SubscriptionCreate, SubscriptionList
from optaic_activity.api.wire import Uuid
from optaic_activity.domain.errors import NotFoundError, TenantMismatchError
from optaic_activity.projections.subscriptions import active_subscriptions
from optaic_activity.service.commands import revoke_subscription, subscribe

router = APIRouter(tags=["subscriptions"])


@router.post(
    "/subscriptions", status_code=status.HTTP_201_CREATED, responses=errors(401, 404, 409, 413, 422)
)
def create_subscription(
    body: SubscriptionCreate, caller: Caller, runtime: RuntimeDep
) -> Subscription:
    """Subscribe to a resource of your tenant (``resource``) or to its subtree (``descendants``).

    Any resource can be subscribed to: the framework's and a service's own (a
    ``ResourceAggregate`` subclass). 404 for a resource that does not exist in your tenant
    (whether or not it exists in another one) or whose service modules this server does not
    load; 422 for an aggregate that is not a resource; 409 if it is deleted.
    """
    try:
        created = command(
            runtime,
            lambda: subscribe(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                resource_id=body.resource_id,
                scope=body.scope,
            ),
        )
    except (NotFoundError, TenantMismatchError):
        raise ApiProblem(NOT_FOUND, f"resource {body.resource_id} not found") from None
    return Subscription.model_validate(
        {
            "id": created.id,
            "resource_id": created.resource_id,
            "resource_type": created.on_resource_type,
            "scope": created.scope,
        }
    )


@router.get("/subscriptions", responses=errors(401))
def list_subscriptions(caller: Caller, conn: ReadConnection) -> SubscriptionList:
    """Your active subscriptions."""
    rows = active_subscriptions(conn, caller.tenant_id, caller.principal_id)
    return SubscriptionList(
        items=[Subscription.model_validate({**row, "id": row["subscription_id"]}) for row in rows]
    )


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 404, 409, 422),
)
def delete_subscription(subscription_id: Uuid, caller: Caller, runtime: RuntimeDep) -> None:
    """Revoke one of your subscriptions (404 for anyone else's; 409 if already revoked)."""
    try:
        command(
            runtime,
            lambda: revoke_subscription(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                subscription_id=subscription_id,
            ),
        )
    except NotFoundError:
        raise ApiProblem(NOT_FOUND, f"subscription {subscription_id} not found") from None
