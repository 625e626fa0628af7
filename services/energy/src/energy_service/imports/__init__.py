"""Distributor meter files: parsed, validated whole, then written (see ``service``)."""
