"""The native JSON API: queues and messages with snake_case fields."""

from nanoqueue.http.queues_api.handlers import routes

__all__ = ["routes"]
