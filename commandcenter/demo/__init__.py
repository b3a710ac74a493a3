"""Demo and synthetic data, kept apart from the domain apps (see apps.py)."""
