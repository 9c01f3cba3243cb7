"""Benchmarks of ticketctl against the tools users would pick instead; ``bench/run`` is the entry point."""
