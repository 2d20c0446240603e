"""One error tree: every exception class of the framework is an ActivityError in domain.errors."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import optaic_activity
from optaic_activity.api.problems import ApiProblem
from optaic_activity.domain import errors

# An HTTP answer on its way to the app's own handler (like Starlette's HTTPException): it
# never leaves the API, so it is no error of the tree.
NOT_ERRORS: set[type[BaseException]] = {ApiProblem}


def _framework_exceptions() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(optaic_activity.__path__, "optaic_activity."):
        # The client has its own tree (it may not import the domain).
        if info.name == "optaic_activity.client" or info.name.startswith("optaic_activity.client."):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("optaic_activity."):
                found.add(value)
    return found


def test_every_framework_exception_is_an_activity_error_named_error_in_domain_errors() -> None:
    found = _framework_exceptions() - NOT_ERRORS
    assert errors.PublisherMisconfiguredError in found  # the walk reaches the notifier
    for cls in found:
        assert issubclass(cls, errors.ActivityError), cls.__qualname__
        assert cls.__name__.endswith("Error"), cls.__qualname__
        assert cls.__module__ == errors.__name__, f"{cls.__qualname__} is in {cls.__module__}"


def test_the_docstring_draws_the_whole_tree_as_it_is() -> None:
    classes = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ActivityError)
    }
    drawn: dict[str, int] = {}
    parents: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^\s*(?P<indent>(?:│   |    )*)(?:├── |└── )?(?P<name>\w+Error)\b", line)
        if match is None:
            continue
        name = match["name"]
        depth = len(match["indent"]) // 4 + (1 if "── " in line else 0)
        assert name not in drawn, f"{name} is drawn twice"
        drawn[name] = depth
        del parents[depth:]
        if parents:
            cls = getattr(errors, name)
            assert cls.__mro__[1].__name__ == parents[-1], f"{name} is drawn under {parents[-1]}"
        parents.append(name)
    assert set(drawn) == {cls.__name__ for cls in classes}
