"""Queues with Amazon SQS semantics, each operation a Lua script over MemDB."""

from nanoqueue.queues.service import QueueService

__all__ = ["QueueService"]
