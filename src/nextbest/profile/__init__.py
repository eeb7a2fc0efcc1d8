"""Customer understanding: point-in-time features, tags, lifecycle stages and the profile.

Kept free of imports on purpose: :mod:`nextbest.warehouse.layout` imports
:mod:`nextbest.profile.tables` (pure data), which must not pull in the warehouse itself.
Import the modules directly (``from nextbest.profile.features import snapshot_features``).
"""

from __future__ import annotations

__all__: list[str] = []
