"""Every NanoqueueError subclass has its own stable code and an HTTP status."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import nanoqueue
from nanoqueue.errors import NanoqueueError
from nanoqueue.http.errors import STATUS


def import_all_modules() -> None:
    """Import every module of the package, so that every error class is defined."""
    for module in pkgutil.walk_packages(nanoqueue.__path__, "nanoqueue."):
        # A __main__ module runs the command line when imported.
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)


def all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(all_subclasses(sub))
    return found


import_all_modules()
ERROR_CLASSES = sorted(
    set(all_subclasses(NanoqueueError)), key=lambda c: c.__qualname__
)


def status_class(cls: type) -> type | None:
    """Return the nearest class in the MRO that has an HTTP status, other than the root."""
    if isinstance(getattr(cls, "status", None), int):
        return cls
    for base in cls.__mro__:
        if base in STATUS and base is not NanoqueueError:
            return base
    return None


def test_error_classes_found() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert {"ScriptTimeout", "ScriptMemoryLimit", "NoScript", "WrongType"} <= names
    assert any(cls.__module__.startswith("nanoqueue.queues") for cls in ERROR_CLASSES)
    assert any(cls.__module__.startswith("nanoqueue.http") for cls in ERROR_CLASSES)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__qualname__)
def test_error_has_own_code(cls: type) -> None:
    assert "code" in vars(cls), f"{cls.__qualname__} inherits its code"
    assert isinstance(cls.code, str)
    assert cls.code


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__qualname__)
def test_error_has_status(cls: type) -> None:
    assert status_class(cls) is not None, f"{cls.__qualname__} has no HTTP status"


def test_error_codes_unique() -> None:
    owners: dict[str, list[str]] = {}
    for cls in [NanoqueueError, *ERROR_CLASSES]:
        owners.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
    duplicates = {code: names for code, names in owners.items() if len(names) > 1}
    assert duplicates == {}
