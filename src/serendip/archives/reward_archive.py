"""The reward archive: every rewarding agent the search kept, from any process."""

from __future__ import annotations

from serendip.archives.add_info import NEW, NOT_ADDED, AddInfo
from serendip.archives.agents import Agents, Archive


class RewardArchive(Archive):
    """Agents with a reward, shared by exploration (a novelty reference) and exploitation.

    The one rule for entering lives here: an agent enters when its reward is
    positive (a sparse reward counts when it is positive). Which rewarding agents
    are offered is the offering process's choice: exploration offers all of its
    agents, an emitter those that beat the best it stored so far.
    """

    def offer(self, agents: Agents) -> AddInfo:
        """Add the rewarding agents of ``agents``; ``value`` is the reward."""
        rewarded = agents.rewards > 0
        self.add(agents.take(rewarded))
        status = (rewarded * NEW).astype("int8")
        status[~rewarded] = NOT_ADDED
        return AddInfo.of(status, agents.rewards)
