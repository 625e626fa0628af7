"""Narrow modules shared by the CerCollettiva services.

Each module does one thing (settings, logging, envelope, db, outbox, events,
consumer, auth, health). Libraries never import services.
"""
