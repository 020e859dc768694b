"""What an archive did with each agent it was offered.

An archive answers every :meth:`add` with one :class:`AddInfo` row per offered
agent (pyribs' add-info), so that the part that produced the agents (an
emitter, say) can rank them by what they did to the archive without reading
the archive's fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOT_ADDED, IMPROVED, NEW = 0, 1, 2
"""Statuses, ordered so that ``status > 0`` means "the archive kept the agent"."""


# eq=False: dataclass equality would compare arrays element-wise and fail on truth value.
@dataclass(frozen=True, eq=False)
class AddInfo:
    """What an archive did with each row of a batch it was offered (pyribs' add-info).

    Attributes:
        status: ``(N,)`` int8: ``NOT_ADDED``, ``IMPROVED`` (the agent replaced or
            improved an entry) or ``NEW`` (it filled an empty place).
        value: ``(N,)`` float64: the figure the archive decided on; each archive
            documents what it is (for :class:`~serendip.archives.grid.GridArchive`,
            the improvement CMA-ME ranks by).
    """

    status: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def added(self) -> np.ndarray:
        """``(N,)`` bool: the rows the archive kept (``NEW`` or ``IMPROVED``)."""
        return self.status > NOT_ADDED

    @classmethod
    def of(cls, status: np.ndarray, value: np.ndarray) -> AddInfo:
        """An ``AddInfo`` with the documented dtypes, checking both are ``(N,)``."""
        status_a = np.asarray(status, dtype=np.int8)
        value_a = np.asarray(value, dtype=np.float64)
        if status_a.ndim != 1 or status_a.shape != value_a.shape:
            raise ValueError(
                f"status and value must be 1-D of the same length, got shapes "
                f"{status_a.shape} and {value_a.shape}"
            )
        return cls(status=status_a, value=value_a)

    @classmethod
    def none_added(cls, n: int) -> AddInfo:
        """``n`` rows all ``NOT_ADDED`` with value 0 (an empty batch, or one refused whole)."""
        return cls(status=np.zeros(n, dtype=np.int8), value=np.zeros(n, dtype=np.float64))
