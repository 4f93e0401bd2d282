"""Tools for running Sidecar's real dependencies locally: used by the tests, the demo and the benchmarks."""
