"""Spinner simulator used by scripts/spin.py (see docs/readme/evaluation.md).

Bump VERSION whenever the output for a given seed changes: records carry it, data/synth/READY holds it.
"""

VERSION = "spin-1"
