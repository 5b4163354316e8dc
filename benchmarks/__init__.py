"""Benchmarks of nanoqueue against its HTTP ceiling and its peers."""
