"""Curated lists Sidecar reads (each file names its sources at the top)."""
