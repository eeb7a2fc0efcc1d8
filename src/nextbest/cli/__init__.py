"""Command-line shell: each module here with a ``register(app)`` adds its commands."""
