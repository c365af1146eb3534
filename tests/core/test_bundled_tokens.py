"""tracer.core.tokens.bundled_tokens: the package's token table is read once per process (a cold
follow asked for it three times), and every TokenTable still gets its own copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer.core import tokens
from tracer.core.tokens import Token, bundled_tokens, load_tokens


def test_the_bundled_table_is_read_once_and_each_table_is_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reads: list[str] = []
    real = tokens.read_token_file

    def counting(path: str | Path, **kw: str) -> list[Token]:
        reads.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr(tokens, "read_token_file", counting)
    bundled_tokens.cache_clear()
    try:
        first, second = load_tokens(), load_tokens()
        assert len(reads) == 1 and reads[0].endswith("tokens.csv")
        assert first.by_key == second.by_key and len(first.by_key) > 0
        key = next(iter(first.by_key))
        first.add([Token(key[0], key[1], "CHANGED", 0, False)])
        assert second.by_key[key].symbol != "CHANGED"  # one table's override is not the other's
        assert load_tokens().by_key[key].symbol != "CHANGED"
        user = tmp_path / "tokens.csv"
        user.write_text(f"chain,token,symbol,decimals\n{key[0]},{key[1]},MINE,3\n")
        assert load_tokens([user]).by_key[key].symbol == "MINE"  # user files: read each time
        assert load_tokens().by_key[key].symbol != "MINE"
        assert len(reads) == 2
    finally:
        bundled_tokens.cache_clear()
