"""Transfer results carry their protocol: keys, reports (schema 1 and 2, literature) and the
compare guard that refuses to rank results measured under different classifier settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import HashEncoder

import bench
from bench.cli import main
from bench.errors import ProtocolError
from bench.protocols import TransferProtocol, load_transfer_presets, parse_transfer
from bench.reports import load, save

REPO = Path(__file__).resolve().parents[1]
KEPT = REPO / "reports" / "minilm-avg-transfer-fasttest.json"
KEPT_V1 = REPO / "tests" / "data" / "minilm-avg-transfer-fasttest.schema1.json"
TABLE_E1 = REPO / "reports" / "literature" / "simcse-tableE1.json"
# SentEval README: the default (paper) setting and the prototyping ("fasttest") setting.
SENTEVAL_DEFAULT = "kfold 10, adam, batch 64, tenacity 5, epoch size 4"
SENTEVAL_FASTTEST = "kfold 5, rmsprop, batch 128, tenacity 3, epoch size 2"


@pytest.mark.parametrize(("config", "classifier", "seed", "key"), [
    ("test", "torch", 1111, "senteval"),
    ("fasttest", "torch", 1111, "senteval-fasttest"),
    ("test", "sklearn", 1111, "senteval-sklearn"),
    ("fasttest", "sklearn", 1111, "senteval-fasttest-sklearn"),
    ("test", "torch", 7, "senteval-seed7"),
])
def test_keys_and_the_one_parser(config, classifier, seed, key):
    proto = TransferProtocol(config, classifier, seed)
    assert proto.key == key
    assert TransferProtocol.parse(key) == proto
    assert TransferProtocol.from_dict(json.loads(json.dumps(proto.to_dict()))) == proto


def test_presets_are_the_named_settings_with_their_source():
    presets = load_transfer_presets()
    assert {"senteval", "senteval-fasttest", "senteval-sklearn"} <= set(presets)
    assert all(name == p.key for name, p in presets.items())
    assert presets["senteval"].settings() == SENTEVAL_DEFAULT
    assert presets["senteval-fasttest"].settings() == SENTEVAL_FASTTEST
    assert "Table E.1" in parse_transfer("senteval").source


@pytest.mark.parametrize("text", ["senteval-slow", "fasttest", "senteval-fasttest-fasttest"])
def test_unknown_transfer_protocol_is_one_line(text):
    with pytest.raises(ProtocolError) as err:
        TransferProtocol.parse(text)
    assert "\n" not in str(err.value) and "senteval-fasttest" in str(err.value)


# ------------------------------------------------------------------------------ reports

@pytest.fixture(params=["kept", "schema1-fixture", "schema2"])
def fasttest_report(request, tmp_path) -> Path:
    """The kept fasttest report (schema 2, protocol stored), its schema-1 original, and that one upgraded and saved."""
    if request.param == "kept":
        return KEPT
    if request.param == "schema1-fixture":
        return KEPT_V1
    path = tmp_path / "minilm-avg-transfer-fasttest.json"
    save(load(KEPT_V1), path)
    return path


def test_fasttest_report_reads_its_protocol(fasttest_report):
    report = load(fasttest_report)
    assert report.transfer_protocol.key == "senteval-fasttest"
    data = json.loads(fasttest_report.read_text())
    if data["schema_version"] == 2:  # stored explicitly, with the settings it stands for
        assert data["transfer_protocol"]["key"] == "senteval-fasttest"
        assert data["transfer_protocol"]["settings"]["optim"] == "rmsprop"
    assert "senteval-fasttest" in bench.table(report)


def test_table_e1_is_sentevals_default_and_a_row_without_one_is_unknown(tmp_path):
    rows = load(TABLE_E1).rows
    assert {r.transfer_protocol.key for r in rows} == {"senteval"}
    data = json.loads(TABLE_E1.read_text())
    del data["rows"][0]["transfer_protocol"]
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data))
    assert load(path).rows[0].transfer_protocol is None


# ------------------------------------------------------------------------------ compare

def test_compare_refuses_fasttest_beside_table_e1_naming_both(fasttest_report, capsys):
    assert main(["compare", str(fasttest_report), str(TABLE_E1)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("bench: error:")
    assert f"senteval-fasttest ({SENTEVAL_FASTTEST})" in err
    assert f"senteval ({SENTEVAL_DEFAULT})" in err and "--allow-mixed" in err


def _md(capsys, *argv: str) -> dict[str, list[str]]:
    assert main(["compare", *argv, "--format", "md"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    return {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in lines[1:])}


def test_allow_mixed_marks_the_fasttest_row_and_never_bolds_it(fasttest_report, tmp_path,
                                                               capsys):
    rows = _md(capsys, str(fasttest_report), str(TABLE_E1), "--allow-mixed")
    assert rows["minilm-avg"][0] == "senteval-fasttest (MIXED)"
    assert all(r[0] == "senteval" for name, r in rows.items() if name != "minilm-avg")
    # a fasttest MR of 99 beats every published row, yet bold stays with them (SBERT's 83.64)
    best = _run_report(tmp_path / "best.json", {}, TransferProtocol("fasttest", "torch"))
    rows = _md(capsys, str(best), str(TABLE_E1), "--allow-mixed")
    assert rows["minilm-avg"][2] == "99.00" and rows["SBERT-base"][2] == "**83.64**"


def _run_report(path: Path, run: dict, protocol: TransferProtocol | None) -> Path:
    """A schema-2 run report with one transfer task, as the runner writes it."""
    report = load(KEPT_V1)
    report.tasks = {"MR": report.tasks["MR"]}
    report.tasks["MR"].transfer.acc = 99.0
    report.transfer_average = None
    report.run = run
    report.transfer_protocol = protocol
    save(report, path)
    return path


def test_test_setting_run_compares_with_table_e1_without_a_note(tmp_path, capsys):
    path = _run_report(tmp_path / "run.json", {"transfer_config": "test", "classifier": "torch"},
                       TransferProtocol("test", "torch"))
    rows = _md(capsys, str(path), str(TABLE_E1))
    assert rows["minilm-avg"][0] == "senteval" and rows["minilm-avg"][2] == "**99.00**"
    assert "MIXED" not in str(rows)


def test_unknown_run_protocol_is_not_ranked(tmp_path, capsys):
    path = _run_report(tmp_path / "run.json", {}, None)
    assert load(path).transfer_protocol is None
    assert main(["compare", str(path), str(TABLE_E1)]) == 2
    assert "unknown" in capsys.readouterr().err
    rows = _md(capsys, str(path), str(TABLE_E1), "--allow-mixed")
    assert rows["minilm-avg"][0] == "unknown (MIXED)" and rows["minilm-avg"][2] == "99.00"


def test_sklearn_and_torch_rows_are_not_ranked_together(tmp_path, capsys):
    a = _run_report(tmp_path / "a.json", {"transfer_config": "test", "classifier": "sklearn"},
                    None)  # a report written before the field: read from its run options
    b = _run_report(tmp_path / "b.json", {}, TransferProtocol("test", "torch"))
    assert load(a).transfer_protocol.key == "senteval-sklearn"
    assert main(["compare", str(a), str(b)]) == 2
    assert "senteval-sklearn (kfold 10, scikit-learn" in capsys.readouterr().err


# ------------------------------------------------------------------------------ bench run

@pytest.mark.parametrize("argv", [
    ["--transfer-protocol", "senteval-fasttest", "--transfer-config", "test"],
    ["--transfer-protocol", "senteval-sklearn", "--classifier", "torch"],
    ["--transfer-protocol", "senteval-quick"],
])
def test_run_rejects_a_bad_or_contradicted_transfer_protocol(argv, data_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "--model", "glove-avg", "--tasks", "TREC", "--data-dir", str(data_dir),
                 "--out", str(out), "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench: error:") and "\n" not in err and not out.exists()


@pytest.mark.slow
def test_measured_test_setting_run_sits_with_table_e1(data_dir, tmp_path, capsys):
    path = tmp_path / "trec.json"
    report = bench.evaluate(HashEncoder(), tasks="TREC", data_dir=data_dir,
                            transfer_protocol="senteval", out=path)
    assert report.transfer_protocol.key == "senteval"
    assert json.loads(path.read_text())["transfer_protocol"]["config"] == "test"
    rows = _md(capsys, str(path), str(TABLE_E1))
    assert rows["hash-8"][0] == "senteval" and "MIXED" not in str(rows)


def test_list_protocols_shows_the_transfer_presets(capsys):
    from bench.cli import main

    assert main(["list", "protocols", "--json"]) == 0
    transfer = {e["name"]: e for e in json.loads(capsys.readouterr().out)
                if e["tasks"] == "transfer"}
    assert set(transfer) == {"senteval", "senteval-fasttest", "senteval-sklearn",
                             "senteval-fasttest-sklearn"}
    assert "kfold 10, adam, batch 64, tenacity 5, epoch size 4" in transfer["senteval"]["protocols"]
