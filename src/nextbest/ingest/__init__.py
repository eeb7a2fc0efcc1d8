"""Mapping-driven ingestion of bank exports: mappings, readers, transforms, validation."""

from nextbest.ingest.mapping import Mapping, MappingError, load_mapping, parse_mapping

__all__ = ["Mapping", "MappingError", "load_mapping", "parse_mapping"]
