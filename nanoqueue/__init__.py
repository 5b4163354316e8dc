"""nanoqueue: a single-node message queue with Amazon SQS semantics."""

__version__ = "0.1.0"
