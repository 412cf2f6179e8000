"""Every `# type: ignore` under src/ names its error code and says why.

mypy (run by .ci/run, configured in pyproject.toml) reports unused ignores and ignores
without a code; the reason is ours to check: an ignore nobody can explain is one nobody
dares remove.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
# `# type: ignore[code, ...]` followed by a second comment giving the reason.
EXPLAINED = re.compile(r"#\s*type:\s*ignore\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\]\s+#\s*\S")


def unexplained_ignores(source: str) -> list[int]:
    """Line numbers of comments with a `type: ignore` lacking a code or a reason."""
    return [
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
        and re.search(r"type:\s*ignore", token.string)
        and not EXPLAINED.search(token.string)
    ]


def test_the_check_refuses_bare_and_code_only_ignores() -> None:
    assert unexplained_ignores("x = f()  # type: ignore\n") == [1]
    assert unexplained_ignores("x = f()  # type: ignore[arg-type]\n") == [1]
    assert unexplained_ignores("x = f()  # type: ignore[arg-type]  #\n") == [1]
    assert unexplained_ignores("x = f()  # type: ignore[arg-type]  # the stub is wrong\n") == []
    assert unexplained_ignores("x = f()  # type: ignore[misc, arg-type]  # see the stub\n") == []
    # Only comments count: a string that mentions an ignore is not one.
    assert unexplained_ignores('x = "# type: ignore"\n') == []


def test_every_ignore_in_src_has_a_code_and_a_reason() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        for line in unexplained_ignores(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "type: ignore without [code] and a '# reason' after it: " + ", ".join(
        offenders
    )
