"""Op counts and audits."""

from .counts import Counts, PopulationCounts, ProjectionCounts

__all__ = ["Counts", "PopulationCounts", "ProjectionCounts"]
