"""Shipped phrase tables and model weights (installed as the `cleaner_models` package)."""
