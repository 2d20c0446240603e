"""The model registry service's domain: its own aggregates, on optaic-activity's base classes."""

from domain.model_registry import ModelRegistryEntry, ModelStatus

__all__ = ["ModelRegistryEntry", "ModelStatus"]
