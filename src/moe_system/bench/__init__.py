"""Benchmarks that print numbers; each measures its peer in the same run (see `benchmarks/`)."""
