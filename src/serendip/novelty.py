"""Novelty: mean distance to the k nearest neighbours in a reference set.

The reference set is identified by evaluation index, so an agent is never its
own neighbour and an agent held by two sets counts once. Neighbour search uses
SciPy's k-d tree in low dimension (ground-truth spaces) and an exact blocked
brute force in high dimension (learned spaces), where k-d trees degrade.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

KD_TREE_MAX_DIM = 16
_BLOCK = 256


def unique_by_index(descriptors: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated agents (same evaluation index), keeping the first occurrence."""
    _, first = np.unique(indices, return_index=True)
    first.sort()
    return descriptors[first], indices[first]


def _brute_force_knn(
    queries: np.ndarray, reference: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    dist = np.empty((queries.shape[0], m))
    idx = np.empty((queries.shape[0], m), dtype=np.int64)
    for start in range(0, queries.shape[0], _BLOCK):
        q = queries[start : start + _BLOCK]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * (q @ reference.T) + ref_sq[None, :]
        np.maximum(d2, 0.0, out=d2)
        part = (
            np.argpartition(d2, m - 1, axis=1)[:, :m]
            if m < d2.shape[1]
            else (np.broadcast_to(np.arange(d2.shape[1]), d2.shape).copy())
        )
        part_d2 = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(part_d2, axis=1, kind="stable")
        idx[start : start + _BLOCK] = np.take_along_axis(part, order, axis=1)
        dist[start : start + _BLOCK] = np.sqrt(np.take_along_axis(part_d2, order, axis=1))
    return dist, idx


class ReferenceSet:
    """A reference set prepared once (deduplicated, neighbour structure built) for many queries.

    SERENE's emitters score a handful of agents per generation against the same
    exploration reference; preparing it once per change of the reference, rather
    than per query, removes the deduplication and tree building from every call.

    Args:
        descriptors: ``(M, D)``, may contain repeated agents.
        indices: ``(M,)`` evaluation indices.
    """

    def __init__(self, descriptors: np.ndarray, indices: np.ndarray) -> None:
        self.descriptors, self.indices = unique_by_index(
            np.asarray(descriptors, dtype=np.float64), np.asarray(indices)
        )
        n, dim = self.descriptors.shape
        self._tree = cKDTree(self.descriptors) if n and dim <= KD_TREE_MAX_DIM else None

    def __len__(self) -> int:
        return int(self.descriptors.shape[0])

    def novelty(
        self, query_descriptors: np.ndarray, query_indices: np.ndarray, k: int = 15
    ) -> np.ndarray:
        """Novelty of each query: mean distance to its ``k`` nearest other agents of the set.

        A reference with the query's own index is the query itself and is skipped;
        with fewer references than needed, all are used; 0 where there is no other agent.
        """
        queries = np.asarray(query_descriptors, dtype=np.float64)
        n_ref = len(self)
        if queries.shape[0] == 0 or n_ref == 0:
            return np.zeros(queries.shape[0])
        m = min(k + 1, n_ref)
        if self._tree is not None:
            dist, idx = self._tree.query(queries, k=m)
            dist, idx = dist.reshape(-1, m), idx.reshape(-1, m)
        else:
            dist, idx = _brute_force_knn(queries, self.descriptors, m)
        keep = self.indices[idx] != np.asarray(query_indices)[:, None]
        keep &= np.cumsum(keep, axis=1) <= k
        counts = keep.sum(axis=1)
        total = np.where(keep, dist, 0.0).sum(axis=1)
        return np.divide(total, counts, out=np.zeros_like(total), where=counts > 0)


def novelty(
    query_descriptors: np.ndarray,
    query_indices: np.ndarray,
    reference_descriptors: np.ndarray,
    reference_indices: np.ndarray,
    k: int = 15,
) -> np.ndarray:
    """Novelty of each query against the reference set.

    Args:
        query_descriptors: ``(N, D)``.
        query_indices: ``(N,)`` evaluation indices of the queries; a reference with
            the same index is the query itself and is skipped.
        reference_descriptors: ``(M, D)``, may contain repeated agents.
        reference_indices: ``(M,)``.
        k: neighbours; with fewer references than needed, all are used.

    Returns:
        ``(N,)`` mean Euclidean distance to the ``k`` nearest other agents
        (0 where there is no other agent).
    """
    return ReferenceSet(reference_descriptors, reference_indices).novelty(
        query_descriptors, query_indices, k
    )
