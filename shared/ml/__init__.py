"""Outcome model: training, evaluation, registry, batch scoring."""
