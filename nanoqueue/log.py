"""Logger names and the logging set-up that `nanoqueue serve` applies."""

from __future__ import annotations

import logging.config

ACCESS_LOGGER = "nanoqueue.access"


def configure(level: str) -> None:
    """Send one line per event to standard error at `level` and above."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "line": {
                    "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
                }
            },
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "line",
                    "stream": "ext://sys.stderr",
                }
            },
            "loggers": {
                "nanoqueue": {
                    "level": level,
                    "handlers": ["stderr"],
                    "propagate": False,
                },
                "aiohttp": {
                    "level": "WARNING",
                    "handlers": ["stderr"],
                    "propagate": False,
                },
            },
        }
    )
