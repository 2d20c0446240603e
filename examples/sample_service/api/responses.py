"""Response bodies of the model registry's HTTP API."""

from __future__ import annotations

from typing import Any

from domain.model_registry import ModelRegistryEntry


def entry_response(entry: ModelRegistryEntry) -> dict[str, Any]:
    """The JSON body that describes one registry entry."""
    return {
        "id": str(entry.id),
        "name": entry.name,
        "framework": entry.framework,
        "description": entry.description,
        "latest_version": entry.latest_model_version,
        "status": entry.status,
        "owner_id": str(entry.owner_id),
    }
