"""``python -m bench SUITE --size small|medium|large`` (SUITE ``all`` runs every suite)."""

from bench.harness import main

if __name__ == "__main__":
    raise SystemExit(main())
