"""`bench data where | verify | download`: resolution order, verification, offline failure."""

from __future__ import annotations

import shutil

from bench.cli import main


def test_where_follows_flag_then_env(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "nothing"))
    assert main(["data", "where", "--data-dir", str(data_dir)]) == 0
    assert f"{data_dir}  (from --data-dir; exists)" in capsys.readouterr().out
    assert main(["data", "where"]) == 1
    assert "(from $BENCH_DATA_DIR; MISSING)" in capsys.readouterr().out


def test_verify_passes_on_shared_data_and_fails_on_a_corrupt_copy(data_dir, tmp_path, capsys):
    assert main(["data", "verify", "--data-dir", str(data_dir)]) == 0
    assert "83/83 files verified" in capsys.readouterr().out
    copy = tmp_path / "downstream"
    shutil.copytree(data_dir / "STS" / "STS13-en-test", copy / "STS" / "STS13-en-test")
    (copy / "STS" / "STS13-en-test" / "STS.gs.FNWN.txt").write_text("0\n")
    assert main(["data", "verify", "--data-dir", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing and 1 corrupt file(s)" in err[0]


def test_download_fails_with_one_line_when_unreachable(tmp_path, capsys):
    url = "http://127.0.0.1:9/senteval.tar"  # discard port: connection refused at once
    assert main(["data", "download", "--to", str(tmp_path), "--url", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: cannot download")
    assert not (tmp_path / "downstream").exists()
