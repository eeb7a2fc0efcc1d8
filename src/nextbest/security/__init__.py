"""Security: password hashing, tokens, API keys, lockout, roles and permissions.

Pure logic with no web framework and no database: the services combine it with the
operational store, the API only translates HTTP to those services.
"""
