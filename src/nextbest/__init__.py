"""nextbest: precision marketing and customer relationships for retail banks."""

__version__ = "0.1.0"
