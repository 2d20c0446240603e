"""The aggregate base: every state change is an activity event carrying the envelope.

A service engineer writes::

    class Signal(ActivityAggregate, topic="optaic.signal", resource_type="signal"):
        @creates("signal.registered")
        def register(self, *, name: str) -> None:
            self.name = name

        @activity("signal.promoted")
        def promoted(self, *, stage: str) -> None:
            self.stage = stage

``Signal.register(name=...)`` creates the aggregate, ``signal.promoted(stage=...)``
changes it. The decorated body is the event's ``apply``: it runs when the event
is triggered and again, identically, whenever the aggregate is rebuilt from the
store. Its keyword arguments are the payload; tenant, actor and correlation id
come from the activity context. Validation that must not run on replay belongs
in a plain command method that then calls the decorated one.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, Self, TypeVar, cast, overload
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import AggregateEvent, BaseAggregate, MetaAggregate
from eventsourcing.utils import get_topic, register_topic, resolve_topic

from optaic_activity.domain.actions import CATALOG
from optaic_activity.domain.context import current_context, note_emitting
from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import (
    ActivityDefinitionError,
    ActivityError,
    TenantMismatchError,
    UnknownActionError,
)
from optaic_activity.domain.payload import Payload, current_policy
from optaic_activity.domain.sealing import sealed_payload

P = ParamSpec("P")
A = TypeVar("A", bound="ActivityAggregate")
PayloadUpcaster = Callable[[dict[str, Any]], None]


_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)  # not slots: cached_property needs the instance __dict__
class ActivitySpec:
    """What an ``@activity``/``@creates`` method declares."""

    action: str
    handler: Callable[..., None]
    visibility: Visibility
    delivery_channels: tuple[str, ...]
    creates: bool
    version: int
    upcasters: Mapping[int, PayloadUpcaster]
    event_name: str

    @cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.handler)

    @cached_property
    def keyword_defaults(self) -> dict[str, Any] | None:
        """The handler's parameters after the aggregate, in order, each with its default
        (``Parameter.empty`` if required); ``None`` if one cannot be passed by keyword."""
        params = list(self.signature.parameters.values())[1:]
        if any(p.kind not in _BY_KEYWORD for p in params):
            return None
        return {p.name: p.default for p in params}

    def payload_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Payload:
        defaults = self.keyword_defaults
        if defaults is not None and not args and kwargs.keys() <= defaults.keys():
            # What bind and apply_defaults give for keyword calls, without inspect's
            # general binding (a tenth of an event's CPU under concurrent writers).
            payload = {name: kwargs.get(name, default) for name, default in defaults.items()}
            if not any(value is inspect.Parameter.empty for value in payload.values()):
                return payload
        bound = self.signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(arguments)))  # the aggregate itself
        return arguments

    def channels_for(self, tenant_id: UUID, resource_id: UUID, resource_type: str) -> list[str]:
        fields = {
            "tenant_id": tenant_id,
            "resource_id": resource_id,
            "resource_type": resource_type,
        }
        return [template.format(**fields) for template in self.delivery_channels]


@dataclass(frozen=True)
class ActivityEvent(AggregateEvent):
    """An aggregate event whose stored form is the activity record."""

    tenant_id: UUID
    actor_principal_id: UUID
    resource_id: UUID
    resource_type: str
    action: str
    visibility: str
    payload: dict[str, Any]
    delivery_channels: list[str]
    correlation_id: UUID

    spec: ClassVar[ActivitySpec]

    def mutate(self, aggregate: Any) -> Any:
        with _applying(aggregate):
            return super().mutate(aggregate)

    def apply(self, aggregate: Any) -> None:
        self.spec.handler(aggregate, **self.payload)

    @property
    def activity_id(self) -> UUID:
        """Stable id of this activity, derived from aggregate id and version."""
        return activity_id_of(self.originator_id, self.originator_version)

    @property
    def envelope(self) -> ActivityEnvelope:
        return ActivityEnvelope(
            tenant_id=self.tenant_id,
            actor_principal_id=self.actor_principal_id,
            resource_id=self.resource_id,
            resource_type=self.resource_type,
            action=self.action,
            visibility=Visibility(self.visibility),
            payload=self.payload,
            delivery_channels=list(self.delivery_channels),
            correlation_id=self.correlation_id,
        )


@dataclass(frozen=True)
class ActivityCreatedEvent(ActivityEvent):
    """The first activity of an aggregate: builds it from nothing."""

    originator_topic: str

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is not None:  # pragma: no cover - the store guarantees version 1 is first
            msg = "a creation event cannot apply to an existing aggregate"
            raise ActivityError(msg)
        cls: type[ActivityAggregate] = resolve_topic(self.originator_topic)
        agg = cls.__new__(cls)
        with _applying(agg):
            agg.__base_init__(
                originator_id=self.originator_id,
                originator_version=self.originator_version,
                timestamp=self.timestamp,
            )
            agg._tenant_id = self.tenant_id
            self.apply(agg)
        return agg


class _Applying:
    def __init__(self, aggregate: Any) -> None:
        self.aggregate = aggregate

    def __enter__(self) -> None:
        object.__setattr__(self.aggregate, "_applying_events", True)

    def __exit__(self, *_: object) -> None:
        object.__setattr__(self.aggregate, "_applying_events", False)


def _applying(aggregate: Any) -> _Applying:
    return _Applying(aggregate)


def activity_id_of(aggregate_id: UUID, version: int) -> UUID:
    """The activity id: a UUID that names (aggregate id, version) and nothing else."""
    # Derived, not random, so that rebuilds and retries agree on it without a lookup.
    return uuid5(aggregate_id, str(version))


class ActivityMethod(Generic[A, P]):
    """Descriptor made by ``@activity``: calling it emits the event on the aggregate."""

    def __init__(self, spec: ActivitySpec) -> None:
        self.spec = spec
        self.event_class: type[ActivityEvent] | None = None
        self.__doc__ = spec.handler.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[A]) -> Self: ...
    @overload
    def __get__(self, instance: A, owner: type[A]) -> Callable[P, None]: ...
    def __get__(self, instance: A | None, owner: type[A]) -> Self | Callable[P, None]:
        if instance is None:
            return self
        return partial(instance._emit, self)


class CreatingMethod(Generic[A, P]):
    """Descriptor made by ``@creates``: calling it on the class creates the aggregate."""

    def __init__(self, spec: ActivitySpec) -> None:
        self.spec = spec
        self.event_class: type[ActivityCreatedEvent] | None = None
        self.__doc__ = spec.handler.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def __get__(self, instance: A | None, owner: type[A]) -> Callable[P, A]:
        return partial(owner._create_activity, self)


@dataclass(frozen=True)
class _Options:
    visibility: Visibility | str
    delivery_channels: Sequence[str]
    version: int
    upcasters: Mapping[int, PayloadUpcaster] | None
    event_name: str | None


def _spec(
    action: str, func: Callable[..., None], *, creates: bool, options: _Options
) -> ActivitySpec:
    try:
        CATALOG.require(action)
    except UnknownActionError as error:
        raise ActivityDefinitionError(f"{func.__qualname__}: {error}") from None
    for param in list(inspect.signature(func).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            msg = f"{func.__qualname__}: *args/**kwargs hide the payload; name each field"
            raise ActivityDefinitionError(msg)
    upcasters = dict(options.upcasters or {})
    missing = [v for v in range(1, options.version) if v not in upcasters]
    if missing:
        msg = (
            f"{func.__qualname__}: version {options.version} needs upcasters "
            f"from versions {missing}"
        )
        raise ActivityDefinitionError(msg)
    return ActivitySpec(
        action=action,
        handler=func,
        visibility=Visibility(options.visibility),
        delivery_channels=tuple(options.delivery_channels),
        creates=creates,
        version=options.version,
        upcasters=upcasters,
        event_name=options.event_name or action,
    )


def activity(
    action: str,
    *,
    visibility: Visibility | str = Visibility.RESOURCE,
    delivery_channels: Sequence[str] = (),
    version: int = 1,
    upcasters: Mapping[int, PayloadUpcaster] | None = None,
    event_name: str | None = None,
) -> Callable[[Callable[Concatenate[A, P], None]], ActivityMethod[A, P]]:
    """Declare a method that changes an aggregate by emitting ``action``.

    ``version`` and ``upcasters`` (``{1: fn}`` turning a v1 payload into v2, in place)
    evolve a payload without rewriting stored events. ``event_name`` (default: the
    action) names the stored event type; it must stay stable once data exists.
    """
    options = _Options(visibility, delivery_channels, version, upcasters, event_name)
    return lambda func: ActivityMethod(_spec(action, func, creates=False, options=options))


def creates(
    action: str,
    *,
    visibility: Visibility | str = Visibility.RESOURCE,
    delivery_channels: Sequence[str] = (),
    version: int = 1,
    upcasters: Mapping[int, PayloadUpcaster] | None = None,
    event_name: str | None = None,
) -> Callable[[Callable[Concatenate[A, P], None]], CreatingMethod[A, P]]:
    """Declare the command that creates an aggregate by emitting ``action`` (options as above)."""
    options = _Options(visibility, delivery_channels, version, upcasters, event_name)
    return lambda func: CreatingMethod(_spec(action, func, creates=True, options=options))


_MUTATING_CALLS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "sort",
        "reverse",
        "__setitem__",
        "__delitem__",
    }
)


def _self_target(node: ast.AST) -> bool:
    """Is ``node`` ``self.x`` or ``self.x[...]`` (at any depth)?"""
    while isinstance(node, ast.Subscript | ast.Attribute):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.value.id == "self"
        node = node.value
    return False


def state_changes_in(func: Callable[..., Any]) -> list[str]:
    """Source lines of ``func`` that change ``self`` (assignments, setattr, mutating calls)."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return []
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.Call):
            fn = node.func
            if (
                isinstance(fn, ast.Name)
                and fn.id in {"setattr", "delattr", "object.__setattr__"}
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "self"
            ) or (
                isinstance(fn, ast.Attribute)
                and fn.attr in _MUTATING_CALLS
                and _self_target(fn.value)
            ):
                found.append(ast.unparse(node))
        for target in targets:
            elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            found.extend(ast.unparse(e) for e in elements if _self_target(e))
    return found


F = TypeVar("F", bound=Callable[..., Any])


def mutator(func: F) -> F:
    """Mark a helper that changes state and is called only from inside activity handlers.

    The class-definition check then leaves it alone; the runtime guard still refuses
    it anywhere outside an event being applied.
    """
    func.__activity_mutator__ = True  # type: ignore[attr-defined]
    return func


class _ActivityAggregateMeta(MetaAggregate[Any]):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        creators = [n for n, v in vars(cls).items() if isinstance(v, CreatingMethod)]
        hint = (
            f"use {cls.__name__}.{creators[0]}(...)" if creators else "declare a @creates command"
        )
        msg = f"{cls.__name__} is created by its @creates command, not by calling the class: {hint}"
        raise ActivityDefinitionError(msg)


def _event_class_name(action: str) -> str:
    return "".join(part.title() for part in re.split(r"[._]", action))


def reserved_names() -> frozenset[str]:
    """Names the aggregate and event bases use: no payload field or state attribute may take one.

    A payload field ``version`` assigned to ``self.version`` would overwrite eventsourcing's
    version counter; one named ``timestamp`` would read as the event's own time. The
    envelope's fields (``resource_id``, ``action``, ...) are not among them: the payload is
    a field of its own, so an aggregate may keep, say, the resource a binding is about.
    """
    base_attributes = {
        name
        for base in (BaseAggregate, ActivityAggregate)
        for name in dir(base)
        if not name.startswith("_")
    }
    names = base_attributes | _EVENT_CORE | {"id", "version"}
    return frozenset(names - _OWN_STATE)


_EVENT_CORE = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})
_OWN_STATE = frozenset({"resource_type"})
"""A resource's own type is its state by design: ``Resource.created(resource_type=...)`` sets
the instance's ``resource_type``, which the envelope reads."""


def _assigned_attributes(func: Callable[..., Any]) -> set[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return set()
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store | ast.Del)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def _refuse_reserved_names(cls: type[Any], method: str, spec: ActivitySpec) -> None:
    reserved = reserved_names()
    fields = list(spec.signature.parameters)[1:]
    taken = [f"payload field {name!r}" for name in fields if name in reserved]
    taken += [
        f"attribute self.{name}"
        for name in sorted(_assigned_attributes(spec.handler))
        if name in reserved
    ]
    if taken:
        msg = (
            f"{cls.__qualname__}.{method} uses {', '.join(taken)}: the aggregate and event "
            f"bases reserve that name; rename it (reserved: {', '.join(sorted(reserved))})"
        )
        raise ActivityDefinitionError(msg)


_STATE_CHANGE_ACTIONS: set[str] = set()


def is_state_change_action(action: str) -> bool:
    """Does some aggregate class (of the modules imported so far) emit ``action``?

    Such an action says an aggregate's state changed; only that aggregate's command may
    record it, never an envelope alone.
    """
    return action in _STATE_CHANGE_ACTIONS


def state_change_actions() -> frozenset[str]:
    """Every action an ``@activity``/``@creates`` method declares (of the imported modules)."""
    return frozenset(_STATE_CHANGE_ACTIONS)


class ActivityAggregate(BaseAggregate[UUID], metaclass=_ActivityAggregateMeta):
    """Base class for aggregates whose every event is an activity.

    Class keywords: ``topic`` (stable, required: stored events name it, never the
    module path, so classes can be renamed and moved) and ``resource_type``.
    """

    TOPIC: ClassVar[str]
    resource_type: ClassVar[str] = "resource"
    _tenant_id: UUID
    _applying_events: bool

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        """A new aggregate's id; given the creating payload, so ids can be derived from it."""
        return uuid4()

    def __init_subclass__(
        cls, *, topic: str | None = None, resource_type: str | None = None, **kwargs: Any
    ) -> None:
        # eventsourcing's own subclass processing (dataclasses, @event) is skipped on purpose:
        # events here are declared only by @activity/@creates.
        super(BaseAggregate, cls).__init_subclass__(**kwargs)
        if not topic or ":" in topic:
            msg = f"{cls.__qualname__} needs a stable topic without ':' (class keyword topic=...)"
            raise ActivityDefinitionError(msg)
        if resource_type is not None:
            cls.resource_type = resource_type
        cls.TOPIC = topic
        register_topic(topic, cls)
        for name, attr in list(vars(cls).items()):
            if isinstance(attr, ActivityMethod | CreatingMethod):
                _refuse_reserved_names(cls, name, attr.spec)
                attr.event_class = cls._define_activity_event(attr.spec)
                _STATE_CHANGE_ACTIONS.add(attr.spec.action)
                setattr(cls, attr.event_class.__name__, attr.event_class)
            elif (
                inspect.isfunction(attr) and not getattr(attr, "__activity_mutator__", False)
            ) or (isinstance(attr, property)):
                func = attr.fset if isinstance(attr, property) else attr
                changes = state_changes_in(func) if func is not None else []
                if changes:
                    msg = (
                        f"{cls.__qualname__}.{name} changes state ({changes[0]}) outside an "
                        "@activity method: emit an activity instead"
                    )
                    raise ActivityDefinitionError(msg)

    @classmethod
    def _define_activity_event(cls, spec: ActivitySpec) -> type[ActivityEvent]:
        base: type[ActivityEvent] = ActivityCreatedEvent if spec.creates else ActivityEvent
        name = _event_class_name(spec.event_name)
        if name in vars(cls):
            msg = (
                f"{cls.__qualname__} declares two events named {spec.event_name!r}; "
                "give one of them an event_name"
            )
            raise ActivityDefinitionError(msg)
        namespace: dict[str, Any] = {
            "__module__": cls.__module__,
            "__qualname__": f"{cls.__qualname__}.{name}",
            "TOPIC": f"{cls.TOPIC}:{spec.event_name}",
            "spec": spec,
            "class_version": spec.version,
        }
        for from_version, upcaster in spec.upcasters.items():
            namespace[f"upcast_v{from_version}_v{from_version + 1}"] = staticmethod(
                partial(_upcast_payload, upcaster)
            )
        event_class = cast(type[ActivityEvent], type(name, (base,), namespace))
        try:
            register_topic(namespace["TOPIC"], event_class)
        except Exception as error:
            raise ActivityDefinitionError(str(error)) from None
        return event_class

    # -- state guard -------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if not self.__dict__.get("_applying_events", False):
            msg = (
                f"{type(self).__name__}.{name} can only change inside an @activity method "
                "(every state change is an activity)"
            )
            raise ActivityDefinitionError(msg)
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if not self.__dict__.get("_applying_events", False):
            msg = f"{type(self).__name__}.{name} can only change inside an @activity method"
            raise ActivityDefinitionError(msg)
        super().__delattr__(name)

    # -- envelope ----------------------------------------------------------------------

    @property
    def tenant_id(self) -> UUID:
        return self._tenant_id

    def activity_target(self) -> tuple[UUID, str]:
        """The resource an activity of this aggregate is about (itself, by default)."""
        return self.id, type(self).resource_type

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        """The resource the creating activity is about (the new aggregate, by default)."""
        return aggregate_id, cls.resource_type

    def require_same_tenant(self, other: ActivityAggregate) -> None:
        if other.tenant_id != self.tenant_id:
            msg = f"{type(other).__name__} {other.id} belongs to another tenant"
            raise TenantMismatchError(msg)

    def _emit(self, method: ActivityMethod[Any, Any], *args: Any, **kwargs: Any) -> None:
        ctx = current_context()
        require_current_tenant(self)
        spec = method.spec
        payload = sealed_payload(
            spec.action,
            current_policy().apply(spec.payload_of(args, kwargs)),
            tenant_id=ctx.tenant_id,
            actor_principal_id=ctx.actor_principal_id,
        )
        resource_id, resource_type = self.activity_target()
        assert method.event_class is not None
        self.trigger_event(
            method.event_class,
            tenant_id=ctx.tenant_id,
            actor_principal_id=ctx.actor_principal_id,
            resource_id=resource_id,
            resource_type=resource_type,
            action=spec.action,
            visibility=spec.visibility.value,
            payload=payload,
            delivery_channels=spec.channels_for(ctx.tenant_id, resource_id, resource_type),
            correlation_id=ctx.correlation_id or uuid4(),
        )
        note_emitting(self)

    @classmethod
    def _create_activity(cls, method: CreatingMethod[Any, Any], *args: Any, **kwargs: Any) -> Self:
        ctx = current_context()
        spec = method.spec
        payload = sealed_payload(
            spec.action,
            current_policy().apply(spec.payload_of(args, kwargs)),
            tenant_id=ctx.tenant_id,
            actor_principal_id=ctx.actor_principal_id,
        )
        aggregate_id = cls.create_id(**payload)
        resource_id, resource_type = cls.creation_target(aggregate_id, payload)
        assert method.event_class is not None
        aggregate = cls._create(
            method.event_class,  # type: ignore[arg-type]
            id=aggregate_id,
            tenant_id=ctx.tenant_id,
            actor_principal_id=ctx.actor_principal_id,
            resource_id=resource_id,
            resource_type=resource_type,
            action=spec.action,
            visibility=spec.visibility.value,
            payload=payload,
            delivery_channels=spec.channels_for(ctx.tenant_id, resource_id, resource_type),
            correlation_id=ctx.correlation_id or uuid4(),
        )
        note_emitting(aggregate)
        return aggregate


def require_current_tenant(aggregate: ActivityAggregate) -> None:
    """Refuse an aggregate of another tenant than the acting one (before anything is emitted)."""
    if aggregate.tenant_id != current_context().tenant_id:
        msg = f"{type(aggregate).__name__} {aggregate.id} belongs to another tenant"
        raise TenantMismatchError(msg)


def _upcast_payload(upcaster: PayloadUpcaster, state: dict[str, Any]) -> None:
    upcaster(state["payload"])


def activity_event_classes(aggregate_class: type[ActivityAggregate]) -> list[type[ActivityEvent]]:
    """Every activity event class an aggregate class declares."""
    return [
        attr.event_class
        for attr in vars(aggregate_class).values()
        if isinstance(attr, ActivityMethod | CreatingMethod) and attr.event_class is not None
    ]


__all__ = [
    "ActivityAggregate",
    "ActivityCreatedEvent",
    "ActivityEvent",
    "ActivityMethod",
    "ActivitySpec",
    "CreatingMethod",
    "activity",
    "activity_event_classes",
    "activity_id_of",
    "creates",
    "get_topic",
    "is_state_change_action",
    "mutator",
    "require_current_tenant",
    "state_change_actions",
    "state_changes_in",
]
