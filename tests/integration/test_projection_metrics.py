from uuid import uuid4

from prometheus_client import generate_latest

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import Resource, activity_context
from optaic_activity.projections.metrics import ProjectionMetrics
from optaic_activity.settings import Settings


def test_lag_is_reported_in_events_and_seconds_until_caught_up(store_settings: Settings) -> None:
    runtime = bootstrap(store_settings)
    runtime.projections.setup()
    try:
        with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
            for _ in range(3):
                runtime.app.save(Resource.create(resource_type="folder", name="f"))
        metrics = ProjectionMetrics()
        metrics.observe(runtime.projections)
        assert metrics.lag_events.labels("audit_log")._value.get() == 3
        assert metrics.lag_seconds.labels("routing")._value.get() > 0
        runtime.projections.catch_up()
        metrics.observe(runtime.projections)
        assert metrics.lag_events.labels("audit_log")._value.get() == 0
        assert metrics.lag_seconds.labels("audit_log")._value.get() == 0
        assert metrics.position.labels("routing")._value.get() == 3
        assert b'activity_projection_lag_events{projection="audit_log"} 0.0' in generate_latest(
            metrics.registry
        )
    finally:
        runtime.close()
