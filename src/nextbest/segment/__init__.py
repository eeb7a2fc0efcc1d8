"""Customer segmentation: rule-based schemes (incl. the five-dimension scheme) and clustering."""

from __future__ import annotations

from nextbest.segment.clustering import SegmentDescription, SegmentModel
from nextbest.segment.rules import FIVE_DIMENSIONS, RuleScheme, SegmentRule, assign_rule_segments

__all__ = [
    "FIVE_DIMENSIONS",
    "RuleScheme",
    "SegmentDescription",
    "SegmentModel",
    "SegmentRule",
    "assign_rule_segments",
]
