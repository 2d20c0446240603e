"""The HTTP API of optaic-activity (FastAPI): ``api.app.create_app(runtime)``.

Modules: ``app`` (the application), ``auth`` (principals, token verifiers), ``deps``
(request dependencies), ``routes/`` (one module per resource), ``schemas`` (the wire
contract, shared with the Python client), ``problems`` (RFC 9457 errors), ``body_limit``,
``audit_export``, ``openapi``, ``background`` and ``serve`` (``activity serve``).

This package imports nothing at import time, so ``client`` can use ``api.schemas`` alone.
"""
