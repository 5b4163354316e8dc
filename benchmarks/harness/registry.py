"""The scenarios by name, in the order `run all` runs them."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.harness import scenarios, server_scenarios
from benchmarks.harness.scenarios import Options, ScenarioResult

SCENARIOS: dict[str, tuple[str, Callable[[Options], ScenarioResult]]] = {
    "send": ("single sends", scenarios.run_send),
    "batch": ("batch sends of 10", scenarios.run_batch),
    "cycle": ("receive and delete on a backlog", scenarios.run_cycle),
    "steady": ("producers and consumers together", scenarios.run_steady),
    "latency": ("send latency at half the maximum rate", scenarios.run_latency),
    "sweep": ("single-send throughput at 1 to 256 clients", scenarios.run_sweep),
    "longpoll": (
        "server CPU under 1,000 idle long polls",
        server_scenarios.run_longpoll,
    ),
    "eval": ("Lua script eval over HTTP", server_scenarios.run_eval),
    "fsync": ("sends under each fsync policy", server_scenarios.run_fsync),
    "memory": ("memory per message at 1 million messages", server_scenarios.run_memory),
    "snapshot": ("snapshot pause and recovery time", server_scenarios.run_snapshot),
}
