"""Scoring rules for H/D/A forecasts. Probabilities are (n, 3) in the order home, draw, away."""

from __future__ import annotations

import numpy as np

EPSILON = 1e-15


def _one_hot(outcomes: np.ndarray) -> np.ndarray:
    return np.eye(3)[np.asarray(outcomes, dtype=int)]


def ranked_probability_scores(probabilities: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Per-match RPS with the outcomes ordered H > D > A (Constantinou & Fenton 2012): half the summed
    squared differences of the cumulative forecast and outcome over the first two categories."""
    cumulative_forecast = np.cumsum(probabilities, axis=1)[:, :2]
    cumulative_outcome = np.cumsum(_one_hot(outcomes), axis=1)[:, :2]
    return np.sum((cumulative_forecast - cumulative_outcome) ** 2, axis=1) / 2.0


def ranked_probability_score(probabilities: np.ndarray, outcomes: np.ndarray) -> float:
    return float(np.mean(ranked_probability_scores(probabilities, outcomes)))


def log_losses(probabilities: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Per-match log loss."""
    chosen = probabilities[np.arange(len(outcomes)), np.asarray(outcomes, dtype=int)]
    return -np.log(np.clip(chosen, EPSILON, 1.0))


def log_loss(probabilities: np.ndarray, outcomes: np.ndarray) -> float:
    return float(np.mean(log_losses(probabilities, outcomes)))


def brier_score(probabilities: np.ndarray, outcomes: np.ndarray) -> float:
    """Multi-class Brier: summed squared error over the three outcomes (range 0..2)."""
    return float(np.mean(np.sum((probabilities - _one_hot(outcomes)) ** 2, axis=1)))


def accuracy(probabilities: np.ndarray, outcomes: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(outcomes, dtype=int)))


def score_all(probabilities: np.ndarray, outcomes: np.ndarray) -> dict[str, float]:
    return {
        "rps": ranked_probability_score(probabilities, outcomes),
        "log_loss": log_loss(probabilities, outcomes),
        "brier": brier_score(probabilities, outcomes),
        "accuracy": accuracy(probabilities, outcomes),
    }
