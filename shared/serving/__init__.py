"""Online inference: champion loading, team directory, the predict service."""
