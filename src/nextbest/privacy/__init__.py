"""Privacy: keys, envelope encryption, pseudonyms, blind indexes and masking.

Pure functions over a :class:`~nextbest.privacy.keys.KeyRing`; no database access here.
"""
