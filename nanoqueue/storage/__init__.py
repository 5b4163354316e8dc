"""MemDB and its persistence: data stores, undo log, append-only log, snapshots."""

from nanoqueue.storage.memdb import Committed, MemDB
from nanoqueue.storage.stores import KeyValue, Queue, SortedSet

__all__ = ["Committed", "KeyValue", "MemDB", "Queue", "SortedSet"]
