"""Case files: YAML or TOML, paths relative to the file, unknown keys refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tracer.core.errors import InputError
from tracer.output.case_file import read_case


def test_the_bundled_sample_case_reads() -> None:
    case = read_case(SAMPLE / "case.yaml")
    assert case.sources == ["TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"]
    assert case.model == "fifo"
    assert [Path(p).name for p in case.data] == ["trongrid_scam_wallet.json",
                                                 "trongrid_downstream.json"]  # fmt: skip
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in case.data + case.labels)
    assert case.through == ["otc_desk", "swap", "bridge"]  # follow's default


def _copy_data(tmp_path: Path) -> None:
    for name in ("trongrid_scam_wallet.json", "labels.csv"):
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())


def test_toml_with_numbers_and_graph_options(tmp_path: Path) -> None:
    _copy_data(tmp_path)
    f = tmp_path / "c.toml"
    f.write_text(
        'sources = ["TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"]\nmodel = "haircut"\nmax_hops = 3\n'
        'min_amount = 1.5\nthrough = "otc_desk"\ndata = ["trongrid_scam_wallet.json"]\n'
        '[graph]\ntop_k = 4\n'
    )
    case = read_case(f)
    assert (case.max_hops, case.min_amount, case.through) == (3, 1.5, ["otc_desk"])
    assert case.graph.top_k == 4 and case.graph.max_edges == 250
    assert case.data == [str(tmp_path.resolve() / "trongrid_scam_wallet.json")]


def test_yaml_plain_numbers_and_booleans_are_read(tmp_path: Path) -> None:
    f = tmp_path / "c.yml"
    f.write_text("sources: [0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed]\nmax_hops: 2\n"
                 "entities: yes\nmin_amount: 0.01\n")  # fmt: skip
    case = read_case(f)
    assert case.sources == ["0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"]  # stays text
    assert (case.max_hops, case.entities, case.min_amount) == (2, True, 0.01)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("sources: [a]\nmax_hop: 2\n", "max_hop", "unknown key"),
        ("sources: [a]\nmax_hops: two\n", "max_hops", "expected int"),
        ("sources: [a]\ngraph: {topk: 2}\n", "graph.topk", "unknown key"),
        ("model: fifo\n", "sources", "at least one source"),
        ("sources: [a]\ndata: [missing.json]\n", "data", "no such file"),
        ("sources: [a]\ndirection: sideways\n", "direction", "forward or backward"),
    ],
)
def test_bad_case_files_name_the_file_and_key(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    f = tmp_path / "case.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        read_case(f)
    assert exc.value.file == str(f) and exc.value.field == field
    assert reason in exc.value.reason
    assert exc.value.exit_code == 2


def test_syntax_errors_and_wrong_suffix(tmp_path: Path) -> None:
    f = tmp_path / "case.toml"
    f.write_text("sources = [\n")
    with pytest.raises(InputError, match="cannot read the case file"):
        read_case(f)
    g = tmp_path / "case.json"
    g.write_text("{}")
    with pytest.raises(InputError, match="ends in"):
        read_case(g)
    h = tmp_path / "list.yaml"
    h.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="mapping"):
        read_case(h)


def test_cross_asset_options_are_case_keys(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("sources: [TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx]\ncross_asset: no\ninfer_otc: yes\n")
    case = read_case(f)
    assert (case.cross_asset, case.infer_otc) == (False, True)
    assert read_case(SAMPLE / "case.yaml").cross_asset is True  # follow's default
    g = tmp_path / "bad.yaml"
    g.write_text("sources: [TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx]\ninfer_otc: maybe\n")
    with pytest.raises(InputError, match="infer_otc"):
        read_case(g)
