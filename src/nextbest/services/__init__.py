"""Use cases that combine the stores: installation, ingestion, status."""
