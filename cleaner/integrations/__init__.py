"""Integrations with data-processing frameworks (imported lazily; each needs its own extra)."""
