"""MemDB: named data stores with an undo log and a redo journal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nanoqueue.errors import NoSuchStructure, StoreError, StructureExists, WrongType
from nanoqueue.storage.stores import (
    KINDS,
    Journal,
    RedoEntry,
    Store,
    UndoEntry,
    show,
    type_name,
)

MAX_NAME_LENGTH = 1024

# Redo entries for create and drop carry this name, which no structure can
# have because structure names are non-empty.
DB_OPS = ""

_OPERATIONS: dict[str, dict[str, Callable[..., Any]]] = {
    kind: {op: getattr(cls, op) for op in cls.READ_OPS | cls.WRITE_OPS}
    for kind, cls in KINDS.items()
}


def check_name(name: object) -> str:
    """Return `name` if it can name a structure; raises WrongType otherwise."""
    if not isinstance(name, str):
        raise WrongType(f"structure name must be a string, got {type_name(name)}")
    if not name:
        raise WrongType("structure name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise WrongType(
            f"structure name is {len(name)} characters long; "
            f"the maximum is {MAX_NAME_LENGTH}"
        )
    return name


class Committed:
    """Undo and redo entries of one committed transaction, oldest first."""

    __slots__ = ("redo", "undo")

    def __init__(self, undo: list[UndoEntry], redo: list[RedoEntry]) -> None:
        self.undo = undo
        self.redo = redo


class MemDB:
    """An in-memory database of KeyValue, SortedSet and Queue structures.

    Changes accumulate in one transaction until `commit` returns their redo
    entries or `rollback` undoes them in reverse order. MemDB does no
    locking: its caller runs one transaction at a time.
    """

    def __init__(self) -> None:
        self.journal = Journal()
        self.structures: dict[str, Store] = {}

    def create(self, kind: str, name: str) -> bool:
        """Create an empty structure. Returns False if it exists with that kind.

        Raises StructureExists if `name` is taken by another kind and
        StoreError for an unknown kind.
        """
        name = check_name(name)
        cls = KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise StoreError(
                f"unknown kind {show(kind)}; use one of {', '.join(sorted(KINDS))}"
            )
        existing = self.structures.get(name)
        if existing is not None:
            if existing.kind == kind:
                return False
            raise StructureExists(
                f"structure {name!r} exists already as a {existing.kind}"
            )
        self.structures[name] = cls(name, self.journal)
        self.journal.undo.append((self.structures.pop, (name,)))
        self.journal.redo.append((DB_OPS, "create", (kind, name)))
        return True

    def drop(self, name: str) -> bool:
        """Remove a structure and its contents. Returns False if it was absent."""
        store = self.structures.pop(check_name(name), None)
        if store is None:
            return False
        self.journal.undo.append((self.structures.__setitem__, (name, store)))
        self.journal.redo.append((DB_OPS, "drop", (name,)))
        return True

    def exists(self, name: str) -> bool:
        return check_name(name) in self.structures

    def kind(self, name: str) -> str | None:
        """Return the kind of structure `name`, or None if there is none."""
        store = self.structures.get(check_name(name))
        return None if store is None else store.kind

    def get(self, name: str) -> Store:
        store = self.structures.get(name)
        if store is None:
            raise NoSuchStructure(
                f"no structure named {name!r}; create it first with db.create"
            )
        return store

    def call(self, name: str, op: str, *args: Any) -> Any:
        """Run operation `op` of structure `name` with `args`.

        Raises NoSuchStructure, WrongType, or StoreError for an operation
        the structure's kind does not have or arguments it does not take.
        """
        try:
            store = self.structures[name]
            function = _OPERATIONS[store.kind][op]
        except (KeyError, TypeError):
            raise self._call_error(name, op) from None
        try:
            return function(store, *args)
        except TypeError as exc:
            raise StoreError(f"wrong arguments to {store.kind} {op}: {exc}") from exc

    def _call_error(self, name: object, op: object) -> StoreError:
        store = self.get(check_name(name))
        if type(op) is not str:
            return WrongType(f"operation must be a string, got {type_name(op)}")
        allowed = ", ".join(sorted(_OPERATIONS[store.kind]))
        return StoreError(
            f"{store.kind} {name!r} has no operation {show(op)}; "
            f"its operations are {allowed}"
        )

    @property
    def dirty(self) -> bool:
        return bool(self.journal.undo)

    def commit(self) -> Committed:
        """End the transaction and return its undo and redo entries.

        The undo entries stay valid only until a later transaction changes
        the same structures; `revert` uses them to take back transactions
        whose log record could not be written, newest first.
        """
        committed = Committed(self.journal.undo, self.journal.redo)
        self.journal.undo = []
        self.journal.redo = []
        return committed

    def revert(self, committed: Committed) -> None:
        """Undo a committed transaction; call it newest transaction first."""
        undo = committed.undo
        while undo:
            function, args = undo.pop()
            function(*args)

    def rollback(self) -> bool:
        """Undo the transaction in reverse order. Returns True if it had changes."""
        undo = self.journal.undo
        changed = bool(undo)
        while undo:
            function, args = undo.pop()
            function(*args)
        self.journal.redo.clear()
        return changed

    def apply(self, redo: list[RedoEntry]) -> None:
        """Apply committed redo entries, as replay of the log does.

        If an entry fails, the entries before it are undone and the error
        is raised.
        """
        try:
            for name, op, args in redo:
                if name == DB_OPS:
                    getattr(self, op)(*args)
                else:
                    self.call(name, op, *args)
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def dump(self) -> list[list[Any]]:
        """Return every structure as `[kind, name, contents]`, sorted by name."""
        return [
            [store.kind, name, store.dump()]
            for name, store in sorted(self.structures.items())
        ]

    def load(self, dumped: list[list[Any]]) -> None:
        """Replace the whole database with what `dump` returned."""
        self.rollback()
        self.structures = {}
        for kind, name, contents in dumped:
            store = KINDS[kind](name, self.journal)
            store.load(contents)
            self.structures[name] = store
