"""Every operation and every error of the three MemDB data stores."""

from __future__ import annotations

import math
from typing import Any

import pytest

from nanoqueue.errors import NoSuchStructure, StoreError, StructureExists, WrongType
from nanoqueue.storage import MemDB


@pytest.fixture
def db() -> MemDB:
    database = MemDB()
    database.create("keyvalue", "kv")
    database.create("sortedset", "zs")
    database.create("queue", "q")
    database.commit()
    return database


# Structures.


def test_create_returns_true_then_false(db: MemDB) -> None:
    assert db.create("keyvalue", "new") is True
    assert db.create("keyvalue", "new") is False


def test_create_other_kind_raises(db: MemDB) -> None:
    with pytest.raises(StructureExists, match="exists already as a keyvalue"):
        db.create("queue", "kv")


def test_create_unknown_kind_raises(db: MemDB) -> None:
    with pytest.raises(StoreError, match="unknown kind 'hash'"):
        db.create("hash", "h")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must not be empty"),
        (5, "must be a string, got int"),
        (None, "must be a string, got nil"),
        ("x" * 1025, "1025 characters long"),
    ],
)
def test_create_bad_name_raises(db: MemDB, name: Any, message: str) -> None:
    with pytest.raises(WrongType, match=message):
        db.create("keyvalue", name)


def test_drop_exists_kind(db: MemDB) -> None:
    assert db.exists("kv") is True
    assert db.kind("zs") == "sortedset"
    assert db.drop("kv") is True
    assert db.exists("kv") is False
    assert db.kind("kv") is None
    assert db.drop("kv") is False


def test_call_missing_structure_raises(db: MemDB) -> None:
    with pytest.raises(NoSuchStructure, match="no structure named 'nope'"):
        db.call("nope", "get", "k")


def test_call_unknown_operation_raises(db: MemDB) -> None:
    with pytest.raises(StoreError, match="has no operation 'push_left'"):
        db.call("kv", "push_left", "x")


def test_call_operation_not_string_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="operation must be a string, got table"):
        db.call("kv", ["get"], "x")


def test_call_wrong_argument_count_raises(db: MemDB) -> None:
    with pytest.raises(StoreError, match="wrong arguments to keyvalue set"):
        db.call("kv", "set", "only-key")


def test_call_dump_method_not_reachable(db: MemDB) -> None:
    with pytest.raises(StoreError, match="has no operation 'load'"):
        db.call("kv", "load", [])


# KeyValue.


def test_keyvalue_set_get_len(db: MemDB) -> None:
    assert db.call("kv", "set", "a", "1") is True
    assert db.call("kv", "set", "a", 2) is False
    assert db.call("kv", "set", 3, 4.5) is True
    assert db.call("kv", "get", "a") == 2
    assert db.call("kv", "get", 3) == 4.5
    assert db.call("kv", "len") == 2


def test_keyvalue_get_missing_returns_none(db: MemDB) -> None:
    assert db.call("kv", "get", "missing") is None


def test_keyvalue_delete_and_exists(db: MemDB) -> None:
    db.call("kv", "set", "a", "x")
    assert db.call("kv", "exists", "a") is True
    assert db.call("kv", "delete", "a") is True
    assert db.call("kv", "delete", "a") is False
    assert db.call("kv", "exists", "a") is False


def test_keyvalue_incr(db: MemDB) -> None:
    assert db.call("kv", "incr", "n") == 1
    assert db.call("kv", "incr", "n", 5) == 6
    assert db.call("kv", "incr", "n", -1.5) == 4.5
    assert db.call("kv", "get", "n") == 4.5


def test_keyvalue_incr_string_keeps_value(db: MemDB) -> None:
    db.call("kv", "set", "s", "text")
    with pytest.raises(WrongType, match="its value is a string"):
        db.call("kv", "incr", "s")
    assert db.call("kv", "get", "s") == "text"


def test_keyvalue_incr_overflow_keeps_value(db: MemDB) -> None:
    db.call("kv", "set", "n", 2**63 - 1)
    with pytest.raises(WrongType, match="overflows a 64-bit integer"):
        db.call("kv", "incr", "n")
    assert db.call("kv", "get", "n") == 2**63 - 1


def test_keyvalue_incr_nan_keeps_value(db: MemDB) -> None:
    db.call("kv", "set", "n", math.inf)
    with pytest.raises(WrongType, match="gives NaN"):
        db.call("kv", "incr", "n", -math.inf)
    assert db.call("kv", "get", "n") == math.inf


def test_keyvalue_incr_by_string_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="increment must be a number, got str"):
        db.call("kv", "incr", "n", "1")


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (True, "boolean"),
        (None, "nil"),
        ([1], "table"),
        ({"a": 1}, "table"),
        (b"x", "bytes"),
    ],
)
def test_keyvalue_wrong_value_type_names_type(
    db: MemDB, value: Any, type_name: str
) -> None:
    with pytest.raises(WrongType, match=f"got {type_name}$"):
        db.call("kv", "set", "k", value)
    with pytest.raises(
        WrongType, match=f"key must be a string or a number, got {type_name}"
    ):
        db.call("kv", "get", value)


def test_keyvalue_nan_rejected(db: MemDB) -> None:
    with pytest.raises(WrongType, match="must not be NaN"):
        db.call("kv", "set", "k", math.nan)


def test_keyvalue_long_key_cut_in_message(db: MemDB) -> None:
    db.call("kv", "set", "k" * 10_000, "text")
    with pytest.raises(WrongType) as caught:
        db.call("kv", "incr", "k" * 10_000)
    assert len(caught.value.message) < 300


# SortedSet.


def test_sortedset_add_and_score(db: MemDB) -> None:
    assert db.call("zs", "add", "a", 3) is True
    assert db.call("zs", "add", "a", 1.5) is False
    assert db.call("zs", "score", "a") == 1.5
    assert db.call("zs", "score", "missing") is None
    assert db.call("zs", "len") == 1


def test_sortedset_number_member_is_string(db: MemDB) -> None:
    db.call("zs", "add", 7, 1)
    assert db.call("zs", "range_by_score", 0, 10) == ["7"]
    assert db.call("zs", "score", "7") == 1


def test_sortedset_orders_by_score_then_member(db: MemDB) -> None:
    for member, score in [("b", 2), ("a", 2), ("c", 1), ("d", 3), ("aa", 2)]:
        db.call("zs", "add", member, score)
    assert db.call("zs", "range_by_score", -math.inf, math.inf) == [
        "c",
        "a",
        "aa",
        "b",
        "d",
    ]


def test_sortedset_range_bounds_inclusive(db: MemDB) -> None:
    for index in range(10):
        db.call("zs", "add", f"m{index}", index)
    assert db.call("zs", "range_by_score", 3, 5) == ["m3", "m4", "m5"]
    assert db.call("zs", "range_by_score", 3.5, 4.5) == ["m4"]
    assert db.call("zs", "range_by_score", 20, 30) == []
    assert db.call("zs", "range_by_score", 5, 3) == []


def test_sortedset_range_large_integer_bound(db: MemDB) -> None:
    db.call("zs", "add", "low", 2**60 + 1)
    db.call("zs", "add", "high", 2**60 + 2)
    assert db.call("zs", "range_by_score", 0, 2**60 + 1) == ["low"]


def test_sortedset_range_limit(db: MemDB) -> None:
    for index in range(10):
        db.call("zs", "add", f"m{index}", index)
    assert db.call("zs", "range_by_score", 0, 9, 3) == ["m0", "m1", "m2"]
    assert db.call("zs", "range_by_score", 8, 9, 5) == ["m8", "m9"]
    assert db.call("zs", "range_by_score", 0, 9, 0) == []
    assert db.call("zs", "range_by_score", 0, 9, 2.0) == ["m0", "m1"]


def test_sortedset_range_bad_limit_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="limit must be a non-negative integer"):
        db.call("zs", "range_by_score", 0, 1, -1)
    with pytest.raises(WrongType, match="limit must be a non-negative integer"):
        db.call("zs", "range_by_score", 0, 1, 1.5)


def test_sortedset_range_bad_bounds_raise(db: MemDB) -> None:
    with pytest.raises(WrongType, match="min must be a number, got str"):
        db.call("zs", "range_by_score", "0", 1)
    with pytest.raises(WrongType, match="max must not be NaN"):
        db.call("zs", "range_by_score", 0, math.nan)


def test_sortedset_remove(db: MemDB) -> None:
    db.call("zs", "add", "a", 1)
    assert db.call("zs", "remove", "a") is True
    assert db.call("zs", "remove", "a") is False
    assert db.call("zs", "len") == 0
    assert db.call("zs", "range_by_score", 0, 10) == []


def test_sortedset_pop_min(db: MemDB) -> None:
    for member, score in [("a", 3), ("b", 1), ("c", 2)]:
        db.call("zs", "add", member, score)
    assert db.call("zs", "pop_min") == ["b"]
    assert db.call("zs", "pop_min", 5) == ["c", "a"]
    assert db.call("zs", "pop_min", 1) == []
    assert db.call("zs", "len") == 0


def test_sortedset_bad_score_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="score must be a number, got str"):
        db.call("zs", "add", "a", "1")
    with pytest.raises(WrongType, match="score must not be NaN"):
        db.call("zs", "add", "a", math.nan)
    with pytest.raises(
        WrongType, match="member must be a string or a number, got boolean"
    ):
        db.call("zs", "add", False, 1)
    assert db.call("zs", "len") == 0


def test_sortedset_pop_min_bad_count_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="count must be a non-negative integer"):
        db.call("zs", "pop_min", "2")


# Queue.


def test_queue_push_pop_both_ends(db: MemDB) -> None:
    assert db.call("q", "push_right", "b") == 1
    assert db.call("q", "push_left", "a") == 2
    assert db.call("q", "push_right", 3) == 3
    assert db.call("q", "peek_left") == "a"
    assert db.call("q", "peek_right") == 3
    assert db.call("q", "pop_left") == "a"
    assert db.call("q", "pop_right") == 3
    assert db.call("q", "len") == 1


def test_queue_empty_returns_none(db: MemDB) -> None:
    assert db.call("q", "pop_left") is None
    assert db.call("q", "pop_right") is None
    assert db.call("q", "peek_left") is None
    assert db.call("q", "peek_right") is None
    assert db.call("q", "pop_left_many", 3) == []
    assert db.call("q", "pop_right_many", 3) == []


def test_queue_push_many_order(db: MemDB) -> None:
    assert db.call("q", "push_right_many", ["c", "d"]) == 2
    assert db.call("q", "push_left_many", ["b", "a"]) == 4
    assert db.call("q", "pop_left_many", 10) == ["a", "b", "c", "d"]


def test_queue_pop_many_order(db: MemDB) -> None:
    db.call("q", "push_right_many", [1, 2, 3, 4, 5])
    assert db.call("q", "pop_left_many", 2) == [1, 2]
    assert db.call("q", "pop_right_many", 2) == [5, 4]
    assert db.call("q", "len") == 1


def test_queue_push_many_bad_value_pushes_nothing(db: MemDB) -> None:
    with pytest.raises(WrongType, match="got boolean"):
        db.call("q", "push_right_many", ["a", True])
    assert db.call("q", "len") == 0


def test_queue_push_bad_value_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="value must be a string or a number, got nil"):
        db.call("q", "push_left", None)


def test_queue_pop_many_bad_count_raises(db: MemDB) -> None:
    with pytest.raises(WrongType, match="count must be a non-negative integer"):
        db.call("q", "pop_left_many", -1)


# Dump and load.


def test_dump_ignores_insertion_order() -> None:
    first = MemDB()
    first.create("keyvalue", "kv")
    first.call("kv", "set", "b", 1)
    first.call("kv", "set", 2, "x")
    first.call("kv", "set", "a", 1)
    second = MemDB()
    second.create("keyvalue", "kv")
    second.call("kv", "set", "a", 1)
    second.call("kv", "set", "b", 1)
    second.call("kv", "set", 2, "x")
    assert first.dump() == second.dump()


def test_load_restores_dump(db: MemDB) -> None:
    db.call("kv", "set", "a", 1)
    db.call("zs", "add", "m", 2)
    db.call("q", "push_right_many", ["x", "y"])
    db.commit()
    copy = MemDB()
    copy.load(db.dump())
    assert copy.dump() == db.dump()
    assert copy.call("zs", "range_by_score", 0, 5) == ["m"]
    assert copy.call("q", "pop_left") == "x"


def test_apply_replays_redo(db: MemDB) -> None:
    db.call("kv", "set", "a", 1)
    db.call("q", "push_right", "x")
    db.drop("zs")
    redo = db.commit().redo
    replica = MemDB()
    replica.apply(
        [
            ("", "create", ("keyvalue", "kv")),
            ("", "create", ("sortedset", "zs")),
            ("", "create", ("queue", "q")),
            *redo,
        ]
    )
    assert replica.dump() == db.dump()
    assert replica.dirty is False


def test_apply_failure_undoes_partial(db: MemDB) -> None:
    before = db.dump()
    with pytest.raises(NoSuchStructure):
        db.apply([("kv", "set", ("a", 1)), ("missing", "get", ("a",))])
    assert db.dump() == before
    assert db.dirty is False
