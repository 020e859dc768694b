"""Random generators as plain data, so run state can be saved without pickle."""

from __future__ import annotations

from typing import Any

import numpy as np


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A generator's complete state as JSON-able data."""
    return rng.bit_generator.state


def restore_rng(state: dict[str, Any]) -> np.random.Generator:
    """A generator in exactly the state :func:`rng_state` returned."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)
