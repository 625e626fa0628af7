"""A GSE simulator: the GSE's side of a CER's monthly loop, as a real HTTP server on loopback.

Development and tests only; no service imports it (import-linter says so). State is in memory.
"""
