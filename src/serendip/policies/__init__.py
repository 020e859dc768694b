"""Policies: how a flat genome becomes actions."""

from serendip.policies.mlp import GENOME_HIGH, GENOME_LOW, MLPPolicy, random_genomes

__all__ = ["GENOME_HIGH", "GENOME_LOW", "MLPPolicy", "random_genomes"]
