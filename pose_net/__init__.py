"""pose_net (later issues)."""

__all__: list[str] = []
