"""The demo bank's world model: a synthetic Chinese retail bank with ground truth."""

from nextbest.demo.world.generator import GenerationSummary, generate
from nextbest.demo.world.params import WorldParams, load_world_params

__all__ = ["GenerationSummary", "WorldParams", "generate", "load_world_params"]
