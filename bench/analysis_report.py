"""The analysis report: a typed, versioned record of one ``bench analyze`` call.

Schema 2 is the first schema of its own: schema 1 analysis files were written under the
shared run-report ``schema_version`` 1 and carried the data folder's absolute path (``data.dir``)
and absolute ``data.files``. Schema 2 keeps only paths relative to the data folder, and how the
folder was found (``data.found_via``). Schema 1 files are read and converted on load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

from bench.data.reading import strict_json
from bench.paths import relative_file
from bench.results import ReportError

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
KIND = "analysis"

# Field name -> expected JSON type, in the order the file lists them.
_FIELDS: dict[str, type] = {"analysis": str, "bench_version": str, "created": str,
                            "options": dict, "data": dict, "models": list, "plot": str}


@dataclass
class AnalysisReport:
    """What one analysis computed: its options, the data used and one entry per model.

    ``models`` entries keep the keys and values the analysis module computed (numbers are
    stored as computed); ``plot`` is the PNG's file name, beside the JSON.
    """

    analysis: str
    bench_version: str
    created: str
    options: dict[str, Any]
    data: dict[str, Any]
    models: list[dict[str, Any]]
    plot: str
    schema_version: int = field(default=SCHEMA_VERSION)
    kind: str = field(default=KIND)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        head = {"schema_version": out.pop("schema_version"), "kind": out.pop("kind")}
        return {**head, **out}

    @classmethod
    def from_dict(cls, data: Any, where: str = "analysis report") -> AnalysisReport:
        """Check and convert a parsed JSON object, or raise a one-line ``ReportError``."""
        if not isinstance(data, dict):
            raise ReportError(f"{where}: not an analysis report (a JSON object is expected)")
        if data.get("kind") != KIND:
            raise ReportError(f"{where}: not an analysis report (kind is "
                              f"{data.get('kind')!r}, expected {KIND!r})")
        version = data.get("schema_version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise ReportError(f"{where}: analysis report schema_version {version!r} is not "
                              f"readable by this bench (reads "
                              f"{', '.join(map(str, READABLE_VERSIONS))})")
        for name, kind in _FIELDS.items():
            if not isinstance(data.get(name), kind):
                raise ReportError(f"{where}: field {name!r} must be a JSON "
                                  f"{_JSON_NAMES[kind]}, got {data.get(name)!r:.60}")
        for i, entry in enumerate(data["models"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
                raise ReportError(f"{where}: models[{i}] must be an object with a 'label'")
        values = {name: data[name] for name in _FIELDS}
        if version == 1:
            values["data"] = _data_from_schema1(values["data"])
        return cls(**values)


_JSON_NAMES = {str: "string", dict: "object", list: "array"}


def _data_from_schema1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 ``data``: drop the absolute ``dir``, make ``files`` relative to it."""
    folder = data.get("dir")
    out = {k: v for k, v in data.items() if k != "dir"}
    if isinstance(out.get("files"), list):
        out["files"] = [relative_file(f, folder or PurePath(f).parent) for f in out["files"]]
    return out


def load(path: Path) -> AnalysisReport:
    """Read an analysis report of any readable schema, or fail with one line naming the file."""
    path = Path(path)
    try:
        data = strict_json(path)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report file") from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ReportError(f"{path}: not a bench report ({exc})") from None
    return AnalysisReport.from_dict(data, str(path))
