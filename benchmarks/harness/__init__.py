"""The benchmark harness: peers, load generators, scenarios and reports."""
