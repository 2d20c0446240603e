"""The model registry service's HTTP layer (here: the response bodies it builds)."""

from api.responses import entry_response

__all__ = ["entry_response"]
