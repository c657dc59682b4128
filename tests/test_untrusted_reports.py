"""Reports and sidecars from someone else: bench neither crashes on them, nor reads outside
their folder, nor allocates what they claim, nor prints a number their own per-pair data
contradict; and bench's own writes leave no half-written report behind.

References are computed here with scipy/numpy on the sidecar's arrays, never by bench.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import bench.atomic
import bench.data.reading
import bench.reports
from bench.cli import main
from bench.compare.uncertainty import task_replicates
from bench.protocols import Protocol
from bench.results import PartResult, TaskResult
from bench.scoring import aggregate

REPO = Path(__file__).resolve().parents[1]
KEPT = REPO / "reports" / "glove-avg-sts-every.json"
SEEDS = REPO / "reports" / "simcse-unsup-minilm-cpu-3seeds-sts.json"


def _copy(src: Path, folder: Path) -> Path:
    """A kept report and its sidecar, copied into ``folder``."""
    shutil.copy(src, folder / src.name)
    side = src.with_name(src.name.removesuffix(".json") + ".pairs.npz")
    if side.exists():
        shutil.copy(side, folder / side.name)
    return folder / src.name


def _edit(path: Path, change) -> dict:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return data


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".json") + ".pairs.npz")


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(_sidecar(path)) as z:
        return {k: z[k] for k in z.files}


def _rewrite_sidecar(path: Path, arrays: dict[str, np.ndarray], digest: bool = True) -> None:
    """Replace the sidecar with ``arrays`` (saved as given) and record its new digest."""
    import hashlib

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _sidecar(path).write_bytes(buf.getvalue())
    if digest:
        _edit(path, lambda d: d["pairs"].update(sha256=hashlib.sha256(buf.getvalue()).hexdigest()))


def _compare(capsys, *args: str) -> tuple[int, str, list[str]]:
    rc = main(["compare", *map(str, args), "--format", "csv"])
    out = capsys.readouterr()
    return rc, out.out, out.err.strip().splitlines()


def _refused(capsys, path: Path, *words: str) -> str:
    """compare refuses ``path`` with exactly one error line naming it (and ``words``)."""
    rc, _, err = _compare(capsys, path)
    assert rc != 0 and len(err) == 1, err
    assert err[0].startswith("bench: error:") and str(path) in err[0], err
    for w in words:
        assert w in err[0], err
    return err[0]


def _stsb_reference(path: Path) -> float:
    """STS-B test Spearman x 100 from the sidecar's arrays, by scipy."""
    a = _arrays(path)
    return 100 * stats.spearmanr(a["STSBenchmark/test/sim"], a["STSBenchmark/test/gold"])[0]


# 1. a stored score is checked against its own per-pair data ---------------------------------

@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_an_edited_score_is_refused_naming_file_task_and_protocol(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    _edit(path, lambda d: d["scores"][0]["values"].update(STSBenchmark=90.0))
    key = json.loads(path.read_text())["scores"][0]["protocol"]["key"]
    _refused(capsys, path, "STSBenchmark", key)


def test_a_score_rounded_to_two_decimals_is_accepted_and_one_step_off_is_not(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    ref = _stsb_reference(path)
    _edit(path, lambda d: d["scores"][0]["values"].update(STSBenchmark=round(ref, 2)))
    rc, out, _ = _compare(capsys, path)
    assert rc == 0 and f"{ref:.2f}" in out
    _edit(path, lambda d: d["scores"][0]["values"].update(STSBenchmark=round(ref, 2) + 0.01))
    _refused(capsys, path, "STSBenchmark")


@pytest.mark.parametrize("where", ["part", "average", "main_score", "cosine"])
def test_other_stored_numbers_are_checked_too(tmp_path, capsys, where):
    path = _copy(KEPT, tmp_path)

    def change(d):
        task = d["tasks"]["STSBenchmark"]
        if where == "part":
            task["parts"]["test"]["spearman"] += 1
        elif where == "average":
            d["scores"][0]["average"]["value"] += 1
        elif where == "main_score":
            task["main_score"] += 1
        else:
            task["similarities"]["cosine"]["pearson"] += 1

    _edit(path, change)
    _refused(capsys, path)


@pytest.mark.parametrize("where", ["seed-run", "summary-mean", "summary-value", "top-mean"])
def test_a_multi_seed_report_is_checked_per_seed_and_in_its_means(tmp_path, capsys, where):
    path = _copy(SEEDS, tmp_path)

    def change(d):
        if where == "seed-run":
            d["seeds"]["runs"][1]["scores"][0]["values"]["STS13"] += 1
        elif where == "summary-mean":
            d["seeds"]["summary"]["all-spearman"]["STS13"]["mean"] += 1
        elif where == "summary-value":
            d["seeds"]["summary"]["all-spearman"]["STS13"]["values"][0] += 1
        else:
            d["scores"][0]["values"]["STS13"] += 1

    _edit(path, change)
    _refused(capsys, path, "STS13")


def test_the_kept_reports_agree_with_their_evidence(capsys):
    """The check refuses nothing genuine (the reference: scipy on the sidecar)."""
    assert abs(_stsb_reference(KEPT) - json.loads(KEPT.read_text())["tasks"]["STSBenchmark"]
               ["parts"]["test"]["spearman"]) < 1e-9
    rc, _, err = _compare(capsys, KEPT, SEEDS, "--allow-mixed")
    assert rc == 0, err


# 2. the sidecar's digest is required ------------------------------------------------------

@pytest.mark.parametrize("digest", ["", None, "missing", "abc"])
def test_a_blank_or_missing_digest_is_refused(tmp_path, capsys, digest):
    path = _copy(KEPT, tmp_path)

    def change(d):
        if digest == "missing":
            del d["pairs"]["sha256"]
        else:
            d["pairs"]["sha256"] = digest

    _edit(path, change)
    _refused(capsys, path, "sha256")


def test_an_altered_sidecar_gives_no_interval(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    arrays = _arrays(path)
    arrays["STSBenchmark/test/sim"] = arrays["STSBenchmark/test/gold"].copy()  # perfect model
    _rewrite_sidecar(path, arrays, digest=False)
    _edit(path, lambda d: d["pairs"].update(sha256=""))
    rc, out, err = _compare(capsys, path, "--ci")
    assert rc != 0 and len(err) == 1 and out == ""


# 3. resource exhaustion -------------------------------------------------------------------

@pytest.mark.parametrize("n", [1380, 5_000_000, 50_000_000])
def test_a_forged_pair_count_is_refused_before_anything_is_allocated(tmp_path, capsys, n):
    """STS-B's test split has 1,379 pairs; no part of any task may claim over 10 million."""
    path = _copy(KEPT, tmp_path)
    _edit(path, lambda d: d["tasks"]["STSBenchmark"]["parts"]["test"].update(n=n))
    tracemalloc.start()
    try:
        line = _refused(capsys, path, "STSBenchmark")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ("1,379" in line) if n < 10_000_000 else ("10,000,000" in line)
    assert peak < 100e6  # 2 x 8 bytes x n would be 80 MB and 800 MB


def test_subsets_claiming_more_pairs_than_their_year_has_are_refused(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    _edit(path, lambda d: d["tasks"]["STS13"]["parts"]["FNWN"].update(n=10_000))
    _refused(capsys, path, "STS13", "1,500")


def test_a_sidecar_member_is_checked_from_its_header_before_it_is_inflated(tmp_path, capsys):
    """A member whose header claims 50 million values (400 MB) in a few bytes of file."""
    path = _copy(KEPT, tmp_path)
    arrays = _arrays(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w") as fh:
                if key == "STSBenchmark/test/sim":
                    np.lib.format.write_array_header_1_0(
                        fh, {"descr": "<f8", "fortran_order": False, "shape": (50_000_000,)})
                else:
                    np.lib.format.write_array(fh, value)
    import hashlib

    _sidecar(path).write_bytes(buf.getvalue())
    _edit(path, lambda d: d["pairs"].update(sha256=hashlib.sha256(buf.getvalue()).hexdigest()))
    tracemalloc.start()
    try:
        _refused(capsys, path, "STSBenchmark/test/sim")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6  # the claimed array alone is 400 MB


def _old_task_replicates(task: TaskResult, protocol: Protocol, resamples: int, seed: int
                         ) -> np.ndarray:
    """The bootstrap as it was before blocking: every index drawn at once."""
    import zlib

    sims, golds = [], []
    for name in task.eval_parts:
        part = task.parts[name]
        rng = np.random.default_rng([seed, zlib.crc32(f"{task.name}/{name}".encode())])
        idx = rng.integers(0, part.n, size=(resamples, part.n), dtype=np.int64)
        sims.append(part.sim[idx])
        golds.append(part.gold[idx])
    return 100 * aggregate(sims, golds, protocol.metric, protocol.aggregation, rowwise=True)


def _task(sizes: dict[str, int], seed: int = 0) -> TaskResult:
    rng = np.random.default_rng(seed)
    task = TaskResult("STS12", "sts", eval_parts=tuple(sizes))
    for name, n in sizes.items():
        gold = np.round(rng.uniform(0, 5, n), 1)
        task.parts[name] = PartResult(n, 0.0, 0.0, gold + rng.normal(0, 2, n), gold)
    return task


@pytest.mark.parametrize("key", ["all-spearman", "mean-pearson", "wmean-spearman"])
def test_blocked_bootstrap_equals_the_unblocked_one_bit_for_bit(key):
    task = _task({"a": 37, "b": 80, "c": 11})
    proto = Protocol.parse(key)
    old = _old_task_replicates(task, proto, 203, 1111)
    for budget in (1, 150, 1000, 10**9):  # one row per block ... everything at once
        new = task_replicates(task, proto, 203, 1111, budget=budget)
        assert np.array_equal(old, new, equal_nan=True)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_a_million_pair_bootstrap_stays_within_bounded_memory():
    """Unblocked, 20 resamples of a million pairs hold 160 MB of indices plus 160 MB per
    gathered array; blocked, a few blocks of 4 rows."""
    task = _task({"test": 1_000_000})
    tracemalloc.start()
    try:
        reps = task_replicates(task, Protocol.parse("all-pearson"), 20, 1111)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reps.shape == (20,)
    assert peak < 250e6


# 4. report and sidecar are written as a unit ----------------------------------------------

@pytest.fixture
def kept_report():
    return bench.reports.load(KEPT)


def test_a_failing_json_write_leaves_nothing_and_says_where_everything_is(
        tmp_path, monkeypatch, kept_report):
    monkeypatch.setattr(bench.reports.tempfile if hasattr(bench.reports, "tempfile") else
                        __import__("tempfile"), "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def disk_full(report, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bench.reports, "write_report", disk_full)
    out = tmp_path / "out" / "r.json"
    with pytest.raises(bench.reports.OutputError) as err:
        bench.reports.save(kept_report, out)
    line = str(err.value)
    assert "\n" not in line and str(out) in line and "nothing of it was left there" in line
    assert sorted(os.listdir(out.parent)) == []
    spare = Path(line.split("written to ")[1].split(" instead")[0])
    assert spare.exists() and _sidecar(spare).exists()
    again = bench.reports.load(spare)
    assert again.has_pairs


def test_killed_while_writing_the_sidecar_leaves_no_report(tmp_path, monkeypatch, kept_report):
    def killed(path, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.reports, "atomic_write_bytes", killed)
    out = tmp_path / "r.json"
    with pytest.raises(KeyboardInterrupt):
        bench.reports.save(kept_report, out)
    assert sorted(os.listdir(tmp_path)) == []


def test_killed_while_writing_the_json_removes_the_sidecar_it_wrote(tmp_path, monkeypatch,
                                                                    kept_report):
    def killed(report, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.reports, "write_report", killed)
    with pytest.raises(KeyboardInterrupt):
        bench.reports.save(kept_report, tmp_path / "r.json")
    assert sorted(os.listdir(tmp_path)) == []


def test_a_named_sidecar_that_is_missing_is_said(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    _sidecar(path).unlink()
    rc, out, err = _compare(capsys, path)
    assert rc == 0 and len(err) == 1, err
    assert err[0].startswith("bench: warning:") and str(path) in err[0]
    assert _sidecar(path).name in err[0]


# 5. SIGTERM during a write ----------------------------------------------------------------

CHILD = """
import sys
from pathlib import Path
import bench.reports
kind, target = sys.argv[1], Path(sys.argv[2])
if kind == "text":
    from bench.atomic import atomic_write_text
    atomic_write_text(target, "x" * 100_000)
else:
    bench.reports.save(bench.reports.load(sys.argv[3]), target)
"""


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
@pytest.mark.parametrize("kind", ["text", "report"])
def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path, kind):
    target = tmp_path / "out" / "r.json"
    env = {**os.environ, bench.atomic.PAUSE_ENV: "1",
           "PYTHONPATH": os.pathsep.join([str(Path(bench.__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(target), str(KEPT)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()  # the writer says it paused with data in its temp file
        assert line.startswith("bench-atomic-paused "), line
        tmp = Path(line.split(" ", 1)[1].strip())
        assert tmp.exists() and tmp.parent == target.parent
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert sorted(os.listdir(target.parent)) == []


def test_stale_temporaries_of_a_killed_write_are_removed_by_the_next(tmp_path):
    old = tmp_path / ".r.json.abc123.tmp"
    fresh = tmp_path / ".r.json.def456.tmp"  # another process's write in progress
    other = tmp_path / ".s.json.abc123.tmp"
    for p in (old, fresh, other):
        p.write_text("partial")
    past = time.time() - 2 * bench.atomic.STALE_AFTER_S
    os.utime(old, (past, past))
    bench.atomic.atomic_write_text(tmp_path / "r.json", "{}")
    assert not old.exists() and fresh.exists() and other.exists()
    assert (tmp_path / "r.json").read_text() == "{}"


# 6. broken report files: one line naming the file, never a traceback ----------------------

def _field_paths(data: dict) -> list[tuple[str, ...]]:
    """Every top-level field and the fields one level into model, a task, a part, the
    sidecar reference and a stored score of the kept report."""
    out = [(k,) for k in data]
    out += [("model", k) for k in data["model"]]
    out += [("tasks", "STSBenchmark", k) for k in data["tasks"]["STSBenchmark"]]
    out += [("tasks", "STSBenchmark", "parts", "test", k)
            for k in data["tasks"]["STSBenchmark"]["parts"]["test"]]
    out += [("pairs", k) for k in data["pairs"]]
    out += [("scores", 0, k) for k in data["scores"][0]]
    out += [("scores", 0, "protocol", k) for k in data["scores"][0]["protocol"]]
    out += [("scores", 0, "values", "STS13"), ("scores", 0, "average", "value")]
    return out


FIELDS = _field_paths(json.loads(KEPT.read_text()))
WRONG = {"str": "x", "list": ["x"], "dict": {"x": 1}, "null": None, "negative": -1,
         "huge": 10**30}


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
@pytest.mark.parametrize("field", FIELDS, ids=lambda f: ".".join(map(str, f)))
def test_a_field_of_the_wrong_type_gives_one_line_or_is_harmless(tmp_path, capsys, field):
    base = json.loads(KEPT.read_text())
    for kind, value in WRONG.items():
        data = copy.deepcopy(base)
        node = data
        for key in field[:-1]:
            node = node[key]
        node[field[-1]] = value
        path = tmp_path / f"{kind}.json"
        shutil.copy(_sidecar(KEPT), _sidecar(path))
        if field == ("pairs", "file"):
            pass  # the mutated name is what is tested
        elif "pairs" in data and isinstance(data["pairs"], dict):
            data["pairs"]["file"] = _sidecar(path).name
        path.write_text(json.dumps(data))
        rc = main(["compare", str(path), "--format", "csv"])
        err = capsys.readouterr().err.strip().splitlines()
        if rc != 0:
            errors = [e for e in err if not e.startswith("bench: warning:")]
            assert len(errors) == 1 and errors[0].startswith("bench: error:"), (kind, err)
            assert str(path) in errors[0], (kind, err)


@pytest.mark.parametrize("name", ["../glove-avg-sts-every.pairs.npz", "/etc/passwd",
                                  "sub/x.npz", "x.json", ""])
def test_a_sidecar_name_outside_the_folder_is_refused(tmp_path, capsys, name):
    folder = tmp_path / "in"
    folder.mkdir()
    path = _copy(KEPT, folder)
    shutil.copy(_sidecar(KEPT), tmp_path / _sidecar(KEPT).name)  # a real one, one level up
    _edit(path, lambda d: d["pairs"].update(file=name))
    _refused(capsys, path, "pairs")


def test_a_pickled_sidecar_is_never_unpickled(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    arrays = _arrays(path)
    boom = np.empty(1379, dtype=object)
    boom[:] = [float(v) for v in arrays["STSBenchmark/test/sim"]]
    arrays["STSBenchmark/test/sim"] = boom
    _rewrite_sidecar(path, arrays)
    _refused(capsys, path, "STSBenchmark/test/sim")


@pytest.mark.parametrize("case", ["int", "2d", "short", "gold-longer", "unknown-member",
                                  "not-a-zip"])
def test_a_malformed_sidecar_gives_one_line(tmp_path, capsys, case):
    path = _copy(KEPT, tmp_path)
    arrays = _arrays(path)
    sim = arrays["STSBenchmark/test/sim"]
    if case == "int":
        arrays["STSBenchmark/test/sim"] = (sim * 100).astype(np.int64)
    elif case == "2d":
        arrays["STSBenchmark/test/sim"] = sim.reshape(7, 197)
    elif case == "short":
        arrays["STSBenchmark/test/sim"] = sim[:-1]
    elif case == "gold-longer":
        arrays["STSBenchmark/test/gold"] = np.append(arrays["STSBenchmark/test/gold"], 1.0)
    elif case == "unknown-member":
        arrays["STSBenchmark/test/../../x"] = sim
    if case == "not-a-zip":
        import hashlib

        _sidecar(path).write_bytes(b"not a zip file")
        _edit(path, lambda d: d["pairs"].update(sha256=hashlib.sha256(b"not a zip file")
                                                .hexdigest()))
    else:
        _rewrite_sidecar(path, arrays)
    _refused(capsys, path)


def test_nan_in_the_similarities_contradicts_a_finite_stored_score(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    arrays = _arrays(path)
    arrays["STSBenchmark/test/sim"][5] = np.nan
    _rewrite_sidecar(path, arrays)
    _refused(capsys, path, "STSBenchmark")


@pytest.mark.parametrize("text", ['{"schema_version": 2, "schema_version": 2}',
                                  '{"schema_version": NaN}', '{"schema_version": Infinity}',
                                  "[" * 100_000, '{"schema_version": true, "kind": "run"}'])
def test_strange_json_gives_one_line(tmp_path, capsys, text):
    path = tmp_path / "r.json"
    path.write_text(text)
    _refused(capsys, path)


def test_a_duplicate_key_in_a_real_report_is_refused(tmp_path, capsys):
    """A viewer shows the first "scores", Python would use the last: refused."""
    path = _copy(KEPT, tmp_path)
    text = path.read_text()
    path.write_text(text.replace('"scores": [', '"scores": [], "scores": [', 1))
    _refused(capsys, path, "scores")


def test_a_report_larger_than_any_bench_report_is_not_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench.data.reading, "MAX_JSON_BYTES", 1000)
    path = _copy(KEPT, tmp_path)
    _refused(capsys, path, "bytes")


@pytest.mark.parametrize("command", ["page", "export"])
def test_the_html_page_and_the_mteb_export_refuse_an_edited_report_and_write_nothing(
        tmp_path, capsys, command):
    path = _copy(KEPT, tmp_path)
    _edit(path, lambda d: d["scores"][0]["values"].update(STSBenchmark=90.0))
    out = tmp_path / "out"
    argv = (["page", "--html", str(out / "page.html"), str(path)] if command == "page"
            else ["export", "mteb", "--out", str(out), str(path)])
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error:") and "STSBenchmark" in err[0]
    assert "per-pair data" in err[0]  # refused for the edit, before any other check
    assert not out.exists() or not any(out.rglob("*"))


def test_a_sidecar_stripped_of_a_task_is_said(tmp_path, capsys):
    path = _copy(KEPT, tmp_path)
    arrays = _arrays(path)
    del arrays["STSBenchmark/test/sim"], arrays["STSBenchmark/test/gold"]
    _rewrite_sidecar(path, arrays)
    rc, _, err = _compare(capsys, path)
    assert rc == 0 and len(err) == 1 and err[0].startswith("bench: warning:"), err
    assert str(path) in err[0] and "STSBenchmark/test" in err[0]
