"""Populations and archives as struct-of-arrays; archives decide what enters.

Every archive's insertion answers with an :class:`AddInfo` (what happened to
each offered agent), as in pyribs.
"""

from serendip.archives.add_info import IMPROVED, NEW, NOT_ADDED, AddInfo
from serendip.archives.agents import Agents, Archive
from serendip.archives.grid import GridArchive, grid_cells
from serendip.archives.novelty_archive import ARCHIVE_SELECTIONS, NoveltyArchive
from serendip.archives.reward_archive import RewardArchive

__all__ = [
    "ARCHIVE_SELECTIONS",
    "IMPROVED",
    "NEW",
    "NOT_ADDED",
    "AddInfo",
    "Agents",
    "Archive",
    "GridArchive",
    "NoveltyArchive",
    "RewardArchive",
    "grid_cells",
]
