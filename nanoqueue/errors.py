"""The exception tree of nanoqueue, each class with a stable error code.

    NanoqueueError
    ├── ConfigError              bad config file, key or value
    ├── InvalidRequest           a request body or parameter that cannot be used
    │   └── RequestTooLarge      a body over server.max_request_bytes
    ├── StoreError               a data-store operation that cannot be applied
    │   ├── WrongType            a value or argument of the wrong type
    │   ├── NoSuchStructure      no structure of that name
    │   └── StructureExists      a structure of that name exists already
    ├── ScriptError              a Lua script failed and was rolled back
    │   ├── ScriptTimeout        it ran past the time limit
    │   ├── ScriptMemoryLimit    it allocated past the memory limit
    │   └── NoScript             no registered script has that SHA-1
    ├── StorageError             the data directory cannot be read or written
    │   ├── DataDirLocked        another server uses the data directory
    │   ├── LogCorrupted         the append-only log is damaged before its end
    │   ├── LogWriteFailed       a log write or fsync failed; the change was undone
    │   └── SnapshotInvalid      a snapshot fails its checksum or format check
    └── QueueError               an SQS-level error, named as SQS names it
                                 (see nanoqueue.queues.errors)

Codes are part of the API: clients match on them, so a code never changes
once released. The HTTP status of each class is chosen in `nanoqueue.http`.
"""

from __future__ import annotations


class NanoqueueError(Exception):
    """Base of every error nanoqueue raises on purpose."""

    code = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(NanoqueueError):
    code = "ConfigError"


class InvalidRequest(NanoqueueError):
    code = "InvalidRequest"


class RequestTooLarge(InvalidRequest):
    code = "RequestTooLarge"


class StoreError(NanoqueueError):
    code = "StoreError"


class WrongType(StoreError):
    code = "WrongType"


class NoSuchStructure(StoreError):
    code = "NoSuchStructure"


class StructureExists(StoreError):
    code = "StructureExists"


class ScriptError(NanoqueueError):
    """A script that failed. `rolled_back` is True if it had changed data."""

    code = "ScriptError"

    def __init__(self, message: str, *, rolled_back: bool = False) -> None:
        super().__init__(message)
        self.rolled_back = rolled_back


class ScriptTimeout(ScriptError):
    code = "ScriptTimeout"


class ScriptMemoryLimit(ScriptError):
    code = "ScriptMemoryLimit"


class NoScript(ScriptError):
    code = "NoScript"


class StorageError(NanoqueueError):
    code = "StorageError"


class DataDirLocked(StorageError):
    code = "DataDirLocked"


class LogCorrupted(StorageError):
    code = "LogCorrupted"


class LogWriteFailed(StorageError):
    code = "LogWriteFailed"


class SnapshotInvalid(StorageError):
    code = "SnapshotInvalid"


class QueueError(NanoqueueError):
    """An error of the queue service; `code` is the SQS error code."""

    code = "QueueError"
