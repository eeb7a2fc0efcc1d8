from __future__ import annotations

from pathlib import Path

from nextbest.security.permissions import matrix_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_docs_show_the_enforced_permission_matrix() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    start = text.index("<!-- matrix:start -->\n") + len("<!-- matrix:start -->\n")
    end = text.index("<!-- matrix:end -->")
    assert text[start:end].strip() == matrix_markdown().strip()
