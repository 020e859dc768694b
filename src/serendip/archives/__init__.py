"""Populations and archives as struct-of-arrays."""

from serendip.archives.agents import Agents, Archive

__all__ = ["Agents", "Archive"]
