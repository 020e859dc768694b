"""The exploration process: novelty search (spec §1)."""

from serendip.exploration.novelty_search import NoveltySearch, NoveltySearchConfig

__all__ = ["NoveltySearch", "NoveltySearchConfig"]
