"""The three data stores of MemDB: KeyValue, SortedSet and Queue.

Every mutating method appends one undo entry and one redo entry to the
journal it was built with. The undo entry restores the state before the
call; the redo entry is what the append-only log records and what replay
applies again, so every mutation must be deterministic given the state.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from sortedcontainers import SortedList

from nanoqueue.errors import WrongType

Value = str | int | float
UndoEntry = tuple[Callable[..., Any], tuple[Any, ...]]
RedoEntry = tuple[str, str, tuple[Any, ...]]


class Journal:
    """Undo and redo entries of the transaction in progress."""

    __slots__ = ("redo", "undo")

    def __init__(self) -> None:
        self.undo: list[UndoEntry] = []
        self.redo: list[RedoEntry] = []


# Lua's integer range: a MemDB number must survive the trip into a script.
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1


def type_name(value: object) -> str:
    """Name the type of `value` as a script author would read it."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (list, tuple, dict)):
        return "table"
    return type(value).__name__


def show(value: object, limit: int = 80) -> str:
    """Return `repr(value)` cut to about `limit` characters, for messages."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def check_value(value: object, what: str = "value") -> Value:
    """Return `value` if it is a string or a number (infinities included).

    Raises WrongType naming the type otherwise, and for NaN, which has no
    place in an ordering.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            raise WrongType(f"{what} must not be NaN")
        return value
    raise WrongType(f"{what} must be a string or a number, got {type_name(value)}")


def check_number(value: object, what: str) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            raise WrongType(f"{what} must not be NaN")
        return value
    raise WrongType(f"{what} must be a number, got {type_name(value)}")


def check_count(value: object, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WrongType(f"{what} must be a non-negative integer, got {show(value)}")
    return value


class Store:
    """Base of the data stores.

    Subclasses list their operations in `READ_OPS` and `WRITE_OPS`; only
    those names can be called through MemDB. Mutating methods record undo
    and redo entries before they return.
    """

    kind: ClassVar[str]
    READ_OPS: ClassVar[frozenset[str]]
    WRITE_OPS: ClassVar[frozenset[str]]

    def __init__(self, name: str, journal: Journal) -> None:
        self.name = name
        self.journal = journal

    def _record(self, undo: UndoEntry, op: str, args: tuple[Any, ...]) -> None:
        journal = self.journal
        journal.undo.append(undo)
        journal.redo.append((self.name, op, args))

    def len(self) -> int:
        """Return the number of entries. O(1)."""
        raise NotImplementedError

    def dump(self) -> list[Any]:
        """Return the contents as plain lists, for snapshots and comparisons."""
        raise NotImplementedError

    def load(self, data: list[Any]) -> None:
        """Replace the contents with what `dump` returned, without journaling."""
        raise NotImplementedError


class KeyValue(Store):
    """A hash map from string or number keys to string or number values."""

    kind = "keyvalue"
    READ_OPS = frozenset({"get", "exists", "len"})
    WRITE_OPS = frozenset({"set", "delete", "incr"})

    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__(name, journal)
        self.data: dict[Value, Value] = {}

    def set(self, key: Value, value: Value) -> bool:
        """Store `value` under `key`. Returns True if the key was new. O(1)."""
        key = check_value(key, "key")
        value = check_value(value)
        data = self.data
        old = data.get(key)
        data[key] = value
        if old is None:
            self._record((data.pop, (key,)), "set", (key, value))
            return True
        self._record((data.__setitem__, (key, old)), "set", (key, value))
        return False

    def get(self, key: Value) -> Value | None:
        """Return the value under `key`, or None. O(1)."""
        return self.data.get(check_value(key, "key"))

    def exists(self, key: Value) -> bool:
        return check_value(key, "key") in self.data

    def delete(self, key: Value) -> bool:
        """Remove `key`. Returns True if it existed. O(1)."""
        key = check_value(key, "key")
        data = self.data
        old = data.pop(key, None)
        if old is None:
            return False
        self._record((data.__setitem__, (key, old)), "delete", (key,))
        return True

    def incr(self, key: Value, by: float = 1) -> int | float:
        """Add `by` to the number under `key` (0 if missing); return the sum. O(1).

        Raises WrongType, leaving the value as it was, if the stored value
        is not a number.
        """
        key = check_value(key, "key")
        by = check_number(by, "increment")
        data = self.data
        old = data.get(key)
        if old is None:
            new: int | float = by
            undo: UndoEntry = (data.pop, (key,))
        elif isinstance(old, str):
            raise WrongType(
                f"cannot incr key {show(key)}: its value is a string, not a number"
            )
        else:
            new = old + by
            undo = (data.__setitem__, (key, old))
        if isinstance(new, float) and math.isnan(new):
            raise WrongType(f"incr of key {show(key)} by {by!r} gives NaN")
        if isinstance(new, int) and not MIN_INTEGER <= new <= MAX_INTEGER:
            raise WrongType(
                f"incr of key {show(key)} by {by!r} overflows a 64-bit integer"
            )
        data[key] = new
        self._record(undo, "incr", (key, by))
        return new

    def len(self) -> int:
        return len(self.data)

    def dump(self) -> list[Any]:
        """Return `[key, value]` pairs, numbers first, each group sorted.

        Sorted so that equal contents dump equal, whatever the order of
        insertion. O(n log n).
        """
        return [[key, self.data[key]] for key in sorted(self.data, key=_key_order)]

    def load(self, data: list[Any]) -> None:
        self.data = {key: value for key, value in data}


def _key_order(key: Value) -> tuple[int, Any]:
    return (1, key) if isinstance(key, str) else (0, key)


class _Top:
    """A member that sorts after every string, to bound ranges by score."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


_TOP = _Top()


class SortedSet(Store):
    """String members ordered by a number score, then by member.

    A number member is stored as its decimal string, as Redis does, so that
    every member compares with every other.
    """

    kind = "sortedset"
    READ_OPS = frozenset({"score", "range_by_score", "len"})
    WRITE_OPS = frozenset({"add", "remove", "pop_min"})

    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__(name, journal)
        self.scores: dict[str, int | float] = {}
        self.order: SortedList = SortedList()

    @staticmethod
    def _member(member: object) -> str:
        member = check_value(member, "member")
        return member if isinstance(member, str) else repr(member)

    def add(self, member: Value, score: float) -> bool:
        """Add `member` with `score`, or move it to `score`. O(log n).

        Returns True if the member was new.
        """
        member = self._member(member)
        score = check_number(score, "score")
        old = self.scores.get(member)
        if old is not None:
            self.order.remove((old, member))
        self.scores[member] = score
        self.order.add((score, member))
        if old is None:
            self._record((self._drop, (member,)), "add", (member, score))
            return True
        self._record((self._put, (member, old)), "add", (member, score))
        return False

    def _put(self, member: str, score: float) -> None:
        old = self.scores.get(member)
        if old is not None:
            self.order.remove((old, member))
        self.scores[member] = score
        self.order.add((score, member))

    def _drop(self, member: str) -> None:
        score = self.scores.pop(member)
        self.order.remove((score, member))

    def score(self, member: Value) -> int | float | None:
        """Return the score of `member`, or None. O(1)."""
        return self.scores.get(self._member(member))

    def remove(self, member: Value) -> bool:
        """Remove `member`. Returns True if it was present. O(log n)."""
        member = self._member(member)
        score = self.scores.get(member)
        if score is None:
            return False
        self._drop(member)
        self._record((self._put, (member, score)), "remove", (member,))
        return True

    def range_by_score(
        self, low: float, high: float, limit: int | None = None
    ) -> list[str]:
        """Return members with `low <= score <= high`, lowest first.

        At most `limit` members when it is given. O(log n + k).
        """
        low = check_number(low, "min")
        high = check_number(high, "max")
        order = self.order
        start = order.bisect_left((low,))
        stop = order.bisect_right((high, _TOP))
        if limit is not None:
            stop = min(stop, start + check_count(limit, "limit"))
        return [member for _, member in order.islice(start, stop)]

    def pop_min(self, count: int = 1) -> list[str]:
        """Remove and return the `count` members of lowest score. O(k log n)."""
        count = check_count(count, "count")
        order = self.order
        popped = list(order.islice(0, count))
        if not popped:
            return []
        del order[: len(popped)]
        for _, member in popped:
            del self.scores[member]
        self._record((self._restore, (popped,)), "pop_min", (count,))
        return [member for _, member in popped]

    def _restore(self, entries: list[tuple[int | float, str]]) -> None:
        for score, member in entries:
            self.scores[member] = score
        self.order.update(entries)

    def len(self) -> int:
        return len(self.scores)

    def dump(self) -> list[Any]:
        return [[member, score] for score, member in self.order]

    def load(self, data: list[Any]) -> None:
        self.scores = {member: score for member, score in data}
        self.order = SortedList((score, member) for member, score in data)


class Queue(Store):
    """A double-ended queue of strings and numbers."""

    kind = "queue"
    READ_OPS = frozenset({"peek_left", "peek_right", "len"})
    WRITE_OPS = frozenset(
        {
            "push_left",
            "push_right",
            "push_left_many",
            "push_right_many",
            "pop_left",
            "pop_right",
            "pop_left_many",
            "pop_right_many",
        }
    )

    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__(name, journal)
        self.items: deque[Value] = deque()

    def push_left(self, value: Value) -> int:
        """Insert `value` at the left end; return the new length. O(1)."""
        value = check_value(value)
        self.items.appendleft(value)
        self._record((self.items.popleft, ()), "push_left", (value,))
        return len(self.items)

    def push_right(self, value: Value) -> int:
        """Insert `value` at the right end; return the new length. O(1)."""
        value = check_value(value)
        self.items.append(value)
        self._record((self.items.pop, ()), "push_right", (value,))
        return len(self.items)

    def push_left_many(self, values: Iterable[object]) -> int:
        """Insert `values` one after another at the left end. O(k).

        The last value ends up leftmost, as with repeated push_left.
        """
        checked = [check_value(value) for value in values]
        self.items.extendleft(checked)
        self._record((self._pop_left_n, (len(checked),)), "push_left_many", (checked,))
        return len(self.items)

    def push_right_many(self, values: Iterable[object]) -> int:
        """Insert `values` in order at the right end. O(k)."""
        checked = [check_value(value) for value in values]
        self.items.extend(checked)
        self._record(
            (self._pop_right_n, (len(checked),)), "push_right_many", (checked,)
        )
        return len(self.items)

    def pop_left(self) -> Value | None:
        """Remove and return the leftmost value, or None. O(1)."""
        if not self.items:
            return None
        value = self.items.popleft()
        self._record((self.items.appendleft, (value,)), "pop_left", ())
        return value

    def pop_right(self) -> Value | None:
        """Remove and return the rightmost value, or None. O(1)."""
        if not self.items:
            return None
        value = self.items.pop()
        self._record((self.items.append, (value,)), "pop_right", ())
        return value

    def pop_left_many(self, count: int) -> list[Value]:
        """Remove and return up to `count` values from the left, leftmost first."""
        count = check_count(count, "count")
        popped = self._pop_left_n(count)
        if popped:
            self._record(
                (self.items.extendleft, (popped[::-1],)), "pop_left_many", (count,)
            )
        return popped

    def pop_right_many(self, count: int) -> list[Value]:
        """Remove and return up to `count` values from the right, rightmost first."""
        count = check_count(count, "count")
        popped = self._pop_right_n(count)
        if popped:
            self._record(
                (self.items.extend, (popped[::-1],)), "pop_right_many", (count,)
            )
        return popped

    def _pop_left_n(self, count: int) -> list[Value]:
        items = self.items
        return [items.popleft() for _ in range(min(count, len(items)))]

    def _pop_right_n(self, count: int) -> list[Value]:
        items = self.items
        return [items.pop() for _ in range(min(count, len(items)))]

    def peek_left(self) -> Value | None:
        return self.items[0] if self.items else None

    def peek_right(self) -> Value | None:
        return self.items[-1] if self.items else None

    def len(self) -> int:
        return len(self.items)

    def dump(self) -> list[Any]:
        return list(self.items)

    def load(self, data: list[Any]) -> None:
        self.items = deque(data)


KINDS: dict[str, type[Store]] = {
    store.kind: store for store in (KeyValue, SortedSet, Queue)
}
