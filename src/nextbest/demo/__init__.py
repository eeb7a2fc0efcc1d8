"""Sample data for demos and tests: a small deterministic bank export and its mapping."""
