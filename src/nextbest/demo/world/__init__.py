"""The demo bank's world model: a synthetic Chinese retail bank with ground truth.

``generate`` writes a bank (exports, truth, fault manifest); ``World.load(out).respond``
simulates how its customers answer marketing contacts. See docs/demo-bank.md.
"""

from nextbest.demo.world.generator import GenerationSummary, generate
from nextbest.demo.world.params import WorldParams, load_world_params
from nextbest.demo.world.respond import World

__all__ = ["GenerationSummary", "World", "WorldParams", "generate", "load_world_params"]
