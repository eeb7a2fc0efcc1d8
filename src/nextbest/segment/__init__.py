"""Customer segmentation: rule-based schemes (incl. the five-dimension scheme) and clustering."""

from __future__ import annotations

from nextbest.segment.clustering import (
    DEFAULT_FEATURES,
    ModelInput,
    SegmentDescription,
    SegmentModel,
)
from nextbest.segment.rules import FIVE_DIMENSIONS, RuleScheme, SegmentRule, assign_rule_segments

__all__ = [
    "DEFAULT_FEATURES",
    "FIVE_DIMENSIONS",
    "ModelInput",
    "RuleScheme",
    "SegmentDescription",
    "SegmentModel",
    "SegmentRule",
    "assign_rule_segments",
]
