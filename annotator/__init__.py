"""Project store, skeleton, session model, CLI and the synthetic studio.

Imports no Qt and no torch (import-linter contract).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
