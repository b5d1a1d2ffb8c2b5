"""Benchmarks that start real processes on loopback: `t2b bench serve` (the HTTP functions vs MLServer)."""
