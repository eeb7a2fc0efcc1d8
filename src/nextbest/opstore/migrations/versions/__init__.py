"""Migration scripts, applied in order by ``OperationalStore.migrate()``."""
