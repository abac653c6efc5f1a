"""Offline tools: the local stand-ins the demo, the integration tests and the benchmarks run against."""
