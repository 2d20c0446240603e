"""The HTTP API of optaic-activity (FastAPI): ``optaic_activity.api.app.create_app(runtime)``.

Modules: ``app`` (the application), ``auth`` (principals, token verifiers), ``deps``
(request dependencies), ``routes/`` (one module per resource), ``schemas`` (the wire
contract, shared with the Python client), ``problems`` (RFC 9457 errors), ``body_limit``,
``audit_export``, ``openapi`` and ``page`` (the live page). It is HTTP only: the server
process and its background workers are entry points (``optaic_activity.entrypoints``).

This package imports nothing at import time, so the client can use ``api.schemas`` alone.
"""
