"""Rollback and revert of MemDB transactions: the state before, exactly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanoqueue.errors import NanoqueueError
from nanoqueue.storage import MemDB


def seeded() -> MemDB:
    db = MemDB()
    db.create("keyvalue", "kv")
    db.create("sortedset", "zs")
    db.create("queue", "q")
    for index in range(5):
        db.call("kv", "set", f"k{index}", index)
        db.call("zs", "add", f"m{index}", index % 3)
        db.call("q", "push_right", f"v{index}")
    db.call("kv", "set", "text", "hello")
    db.commit()
    return db


# Every mutating operation, each as (structure, operation, args).
MUTATIONS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("kv", "set", ("k0", "changed")),
    ("kv", "set", ("fresh", 1)),
    ("kv", "delete", ("k1",)),
    ("kv", "incr", ("k2", 10)),
    ("kv", "incr", ("fresh", 1)),
    ("zs", "add", ("m0", 99)),
    ("zs", "add", ("fresh", 1)),
    ("zs", "remove", ("m1",)),
    ("zs", "pop_min", (2,)),
    ("q", "push_left", ("x",)),
    ("q", "push_right", ("x",)),
    ("q", "push_left_many", (["x", "y"],)),
    ("q", "push_right_many", (["x", "y"],)),
    ("q", "pop_left", ()),
    ("q", "pop_right", ()),
    ("q", "pop_left_many", (3,)),
    ("q", "pop_right_many", (3,)),
]


@pytest.mark.parametrize(("name", "op", "args"), MUTATIONS)
def test_rollback_undoes_operation(name: str, op: str, args: tuple[Any, ...]) -> None:
    db = seeded()
    before = db.dump()
    db.call(name, op, *args)
    assert db.dump() != before
    assert db.rollback() is True
    assert db.dump() == before
    assert db.dirty is False


def test_rollback_undoes_create() -> None:
    db = seeded()
    before = db.dump()
    db.create("queue", "new")
    db.call("new", "push_right", "x")
    db.rollback()
    assert db.dump() == before
    assert db.exists("new") is False


def test_rollback_undoes_drop() -> None:
    db = seeded()
    before = db.dump()
    db.call("q", "pop_left")
    db.drop("q")
    assert db.rollback() is True
    assert db.dump() == before
    assert db.call("q", "peek_left") == "v0"


def test_rollback_undoes_drop_then_create() -> None:
    db = seeded()
    before = db.dump()
    db.drop("kv")
    db.create("sortedset", "kv")
    db.call("kv", "add", "m", 1)
    db.rollback()
    assert db.dump() == before
    assert db.kind("kv") == "keyvalue"


def test_rollback_without_changes_returns_false() -> None:
    db = seeded()
    db.call("kv", "get", "k0")
    assert db.rollback() is False


def test_failed_operation_changes_nothing() -> None:
    db = seeded()
    before = db.dump()
    with pytest.raises(NanoqueueError):
        db.call("kv", "incr", "text")
    with pytest.raises(NanoqueueError):
        db.call("q", "push_right_many", ["ok", None])
    assert db.dump() == before
    assert db.dirty is False


def test_revert_undoes_committed() -> None:
    db = seeded()
    before = db.dump()
    db.call("kv", "set", "k0", "one")
    first = db.commit()
    db.call("q", "pop_left_many", 2)
    db.create("keyvalue", "other")
    second = db.commit()
    db.revert(second)
    db.revert(first)
    assert db.dump() == before


def test_commit_returns_redo_that_replays() -> None:
    db = seeded()
    replica = MemDB()
    replica.load(db.dump())
    for name, op, args in MUTATIONS:
        db.call(name, op, *args)
    replica.apply(db.commit().redo)
    assert replica.dump() == db.dump()


names = st.sampled_from(["kv", "zs", "q", "extra"])
scalars = st.one_of(
    st.text(max_size=4),
    st.integers(min_value=-5, max_value=5),
    st.floats(min_value=-5, max_value=5, allow_nan=False),
)
counts = st.integers(min_value=0, max_value=4)
operations = st.one_of(
    st.tuples(
        st.just("create"), st.sampled_from(["keyvalue", "sortedset", "queue"]), names
    ),
    st.tuples(st.just("drop"), names),
    st.tuples(names, st.just("set"), st.tuples(scalars, scalars)),
    st.tuples(names, st.just("delete"), st.tuples(scalars)),
    st.tuples(names, st.just("incr"), st.tuples(scalars, scalars)),
    st.tuples(names, st.just("add"), st.tuples(scalars, scalars)),
    st.tuples(names, st.just("remove"), st.tuples(scalars)),
    st.tuples(names, st.just("pop_min"), st.tuples(counts)),
    st.tuples(names, st.sampled_from(["push_left", "push_right"]), st.tuples(scalars)),
    st.tuples(
        names,
        st.sampled_from(["push_left_many", "push_right_many"]),
        st.tuples(st.lists(scalars, max_size=4)),
    ),
    st.tuples(names, st.sampled_from(["pop_left", "pop_right"]), st.just(())),
    st.tuples(
        names, st.sampled_from(["pop_left_many", "pop_right_many"]), st.tuples(counts)
    ),
)


def perform(db: MemDB, operation: tuple[Any, ...]) -> None:
    if operation[0] == "create":
        db.create(operation[1], operation[2])
    elif operation[0] == "drop":
        db.drop(operation[1])
    else:
        name, op, args = operation
        db.call(name, op, *args)


@settings(max_examples=300, deadline=None)
@given(st.lists(operations, max_size=30))
def test_random_operations_then_error_restore_state(
    sequence: list[tuple[Any, ...]],
) -> None:
    db = seeded()
    before = db.dump()
    for operation in sequence:
        # Operations that fail (wrong kind, missing structure, bad type)
        # are part of the test: they must leave no trace either.
        try:
            perform(db, operation)
        except NanoqueueError:
            pass
    db.rollback()
    assert db.dump() == before
    assert db.dirty is False
