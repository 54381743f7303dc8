"""machine_labeler (later issues)."""

__all__: list[str] = []
