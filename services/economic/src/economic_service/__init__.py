"""The economic service: from a community's metered month to settled, approved money."""
