"""The analyses' Python API: ``bench.analyze(kind, models, ...)`` computes one analysis and
returns its typed report; ``bench analyze KIND`` is this plus printing and saving.

    import bench
    result = bench.analyze("align-uniform", ["glove-avg"], splits="test", max_pairs=200)
    result.report.models[0]["align"], result.report.models[0]["uniform"]

An analysis's own parameters (``threshold=`` for align-uniform, ...) come from its module's
``add_arguments``: the Python keywords are its flags' destinations, with the same defaults,
types and choices. The encoding options are the run options' encode and data groups
(``bench.options.RunOptions``), as in ``bench.evaluate``. Nothing is written unless
``out_dir`` is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.analysis import compute
from bench.analysis.kinds import AnalysisKind, Entry, Rows, discover
from bench.analysis.report import AnalysisReport, save
from bench.analysis.sets import StsbSets, build_sets, parse_splits
from bench.analysis.targets import collect_targets
from bench.data.locate import locate
from bench.devices import check_device
from bench.distributed import follower
from bench.encoders.make import encoder_options
from bench.errors import BenchError
from bench.options import DATA, ENCODE, RunOptions
from bench.outputs import OutputError, check_folder
from bench.registry import suggest
from bench.reports import now_iso, slug
from bench.seeding import check_seed
from bench.version import __version__

# Recorded in the report's options as they always were; the other encoding options are
# recorded when given (they are part of each model's spec too).
RECORDED = ("pooler", "device", "precision", "batch_size")
OPTIONAL_RECORDED = ("max_length", "dtype", "prompt", "prompt_a", "prompt_b", "prompt_name")


@dataclass
class Analysis:
    """One analysis computed: its ``report`` (what is saved) and what printing and plotting
    need besides (the kind, the STS-B sets, the entries with their ``_`` keys)."""

    report: AnalysisReport
    kind: AnalysisKind
    sets: StsbSets
    entries: list[Entry]

    def rows(self) -> Rows:
        return self.kind.rows(self.entries, self.report.options)

    def save(self, out_dir: Path, name: str | None = None) -> tuple[Path, Path]:
        """Write the JSON report, then the PNG beside it; (json, png)."""
        stem = slug(name) if name else _stem(self.report.analysis, self.entries)
        png = Path(out_dir) / f"{stem}.png"
        self.report.plot = png.name
        path = save(self.report, Path(out_dir) / f"{stem}.json")  # first: the numbers
        try:
            self.kind.plot(self.entries, self.sets, self.report.options, png,
                           self.kind.title(self.report.options, self.sets))
        except OSError as exc:
            raise OutputError(f"cannot write the plot {png} ({exc.strerror or exc}); the "
                              f"report is in {path}") from None
        return path, png


def encoding_names() -> list[str]:
    """The run options an analysis takes: the encode and data groups (``bench.options``)."""
    return [f.name for f in fields(RunOptions) if f.metadata["group"] in (ENCODE, DATA)]


def kind_of(name: str) -> AnalysisKind:
    """The analysis called ``name`` (``bench analyze NAME``), or one line with the valid ones."""
    kinds = discover()
    if name not in kinds:
        raise BenchError(f"unknown analysis {name!r}{suggest(name, list(kinds))}; valid: "
                         f"{', '.join(kinds)}")
    return kinds[name]


def kind_parameters(kind: AnalysisKind, given: Mapping[str, Any]) -> argparse.Namespace:
    """The analysis's own parameters: its flags' defaults, overridden by ``given`` (converted
    by the flag's type and checked against its choices, as argparse would)."""
    parser = argparse.ArgumentParser(add_help=False)
    kind.add_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    values = {dest: a.default for dest, a in actions.items()}
    for dest, value in given.items():
        action = actions[dest]
        if action.type is not None and value is not None:
            try:
                value = action.type(value)
            except (TypeError, ValueError):
                raise BenchError(f"{dest}: invalid value {value!r}") from None
        if action.choices is not None and value not in action.choices:
            raise BenchError(f"{dest}: unknown value {value!r}; valid: "
                             f"{', '.join(map(str, action.choices))}")
        values[dest] = value
    return argparse.Namespace(**values)


def parameter_names(kind: AnalysisKind) -> list[str]:
    parser = argparse.ArgumentParser(add_help=False)
    kind.add_arguments(parser)
    return [a.dest for a in parser._actions]


def analyze(kind: str, models: str | Iterable[str] = (), *, checkpoints: Iterable[str] = (),
            splits: str | Sequence[str] = "train,dev,test", unique_sentences: bool = False,
            max_pairs: int | None = None, seed: int = 1111, out_dir: str | Path | None = None,
            name: str | None = None, **options: Any) -> Analysis | None:
    """Compute analysis ``kind`` for ``models`` (recipe names, paths, hub ids) and the
    checkpoints of the run folders in ``checkpoints``; return it (None on the ranks other than
    0 of a sharded run). ``splits``: the STS-B splits used; ``max_pairs``: a ``seed``-ed
    random subset of pairs. ``options``: the analysis's own parameters and the encoding
    options (``batch_size``, ``pooler``, ``data_dir``, ...; ``show_progress`` is off). With
    ``out_dir``, the JSON report and the PNG are written there (file stem ``name``)."""
    chosen = kind_of(kind)
    names = encoding_names()
    encoding = {k: v for k, v in options.items() if k in names}
    own = {k: v for k, v in options.items() if k not in names}
    valid = [*names, *parameter_names(chosen)]
    for key in own:
        if key not in valid:
            raise BenchError(f"unknown option {key!r} of analysis {chosen.name!r}"
                             f"{suggest(key, valid)}; valid: {', '.join(valid)}")
    result = run_analysis(chosen, [models] if isinstance(models, str) else list(models),
                          list(checkpoints),
                          [splits] if isinstance(splits, str) else list(splits),
                          unique_sentences, max_pairs, seed, RunOptions.from_kwargs(encoding),
                          kind_parameters(chosen, own), out_dir)
    if out_dir is not None and result is not None:
        result.save(Path(out_dir), name)
    return result


def run_analysis(kind: AnalysisKind, models: list[str], checkpoints: list[str],
                 splits: list[str], unique_sentences: bool, max_pairs: int | None, seed: int,
                 opts: RunOptions, params: argparse.Namespace,
                 out_dir: str | Path | None = None) -> Analysis | None:
    """The one flow of every analysis (the CLI and ``analyze`` both call it): check
    everything (``out_dir``, where the caller will write, included), encode STS-B once per
    model, and compute; nothing is written."""
    device = check_device(opts.device or "cpu")
    check_seed(seed)
    chosen_splits = parse_splits(splits)
    recorded = _recorded(opts, device, chosen_splits, unique_sentences, max_pairs, seed)
    recorded.update(kind.options(params))
    targets = collect_targets(models, checkpoints)
    location = locate(opts.data_dir)
    sets = build_sets(location.downstream, chosen_splits, unique_sentences, max_pairs, seed)
    kind.check(sets, recorded)  # bad options fail before anything is created or encoded
    if out_dir is not None:
        check_folder(Path(out_dir), "--out-dir")  # before encoding, not after it
    settings = compute.EncodeSettings(encoder_options(opts, device), opts.cache_dir,
                                      opts.use_cache, opts.batch_size, opts.show_progress)
    entries: list[Entry] = []
    for target, described, table, stats in compute.model_tables(targets, sets, settings):
        entry: Entry = {**target.describe(), "name": described["name"],
                        "spec": described["spec"], "fingerprint": described["fingerprint"]}
        entry.update(kind.compute(table, sets, recorded, params, dict(entry)))
        entry["timings"] = {k: v for k, v in stats.items() if k != "cache"}
        entries.append(entry)
    if follower():  # a sharded run's other ranks: rank 0 has the numbers
        return None
    report = AnalysisReport(
        analysis=kind.name, bench_version=__version__, created=now_iso(), options=recorded,
        data={"found_via": location.source, **sets.describe()},
        models=[{k: v for k, v in e.items() if not k.startswith("_")} for e in entries],
        plot="")
    return Analysis(report, kind, sets, entries)


def _recorded(opts: RunOptions, device: str, splits: tuple[str, ...], unique: bool,
              max_pairs: int | None, seed: int) -> dict[str, Any]:
    """The options the report records, in the order it always listed them."""
    out: dict[str, Any] = {"splits": list(splits), "unique_sentences": unique,
                           "max_pairs": max_pairs, "seed": seed}
    values = {**opts.as_dict(), "device": device}
    out.update({k: values[k] for k in RECORDED})
    out.update({k: values[k] for k in OPTIONAL_RECORDED if values[k] is not None})
    return out


def _stem(analysis: str, entries: list[Entry]) -> str:
    labels = list(dict.fromkeys((e.get("checkpoint") or {}).get("run") or e["label"]
                                for e in entries))
    who = "+".join(slug(x) for x in labels[:3]) + (f"+{len(labels) - 3}more" if len(labels) > 3
                                                   else "")
    return f"{analysis}-{who}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"

