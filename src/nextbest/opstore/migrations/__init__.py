"""Alembic migrations of the operational store (a package so that wheels ship them)."""
