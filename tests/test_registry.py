"""bench.registry: one mechanism for everything looked up by name, and third-party plugins.

The plugin test builds a fake installed distribution (a ``*.dist-info`` folder with
``entry_points.txt``) on ``sys.path``, so ``importlib.metadata`` finds it without pip; the
plugin declares an encoder type, a path resolver, a task and a command, and bench must find
and run them with no edit to bench.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bench.cli import COMMANDS, main
from bench.encoders.registry import ENCODER_TYPES, PATH_RESOLVERS, EncoderOptions, build, resolve
from bench.errors import BenchError, DataError
from bench.registry import Registry, RegistryError
from bench.tasks import catalog
from bench.tasks.registry import TASKS, check_name, get, reserved_names, select, set_names
from tests.helpers import HashEncoder

REGISTRIES = (ENCODER_TYPES, PATH_RESOLVERS, TASKS, COMMANDS)

# --- the Registry class ---------------------------------------------------------------------


def test_lazy_entry_is_imported_on_first_use_only(tmp_path, monkeypatch):
    (tmp_path / "lazy_mod_c2.py").write_text("VALUE = 41 + 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[int] = Registry("toy value")
    reg.register("answer", "lazy_mod_c2:VALUE")
    assert "lazy_mod_c2" not in sys.modules
    assert reg.names() == ["answer"] and "lazy_mod_c2" not in sys.modules
    assert reg.get("answer") == 42
    assert "lazy_mod_c2" in sys.modules
    monkeypatch.delitem(sys.modules, "lazy_mod_c2")


def test_unknown_name_suggests_the_closest_and_lists_all():
    reg: Registry[int] = Registry("toy value")
    reg.register("glove-avg", 1)
    reg.register("transformer", 2)
    with pytest.raises(RegistryError) as err:
        reg.get("glove-ag")
    assert str(err.value) == ("unknown toy value 'glove-ag'; did you mean glove-avg?; valid: "
                              "glove-avg, transformer")
    assert isinstance(err.value, BenchError)


def test_a_name_or_alias_taken_twice_is_an_error_and_replace_drops_old_aliases():
    reg: Registry[int] = Registry("toy value")
    reg.register("a", 1, aliases=("x",))
    with pytest.raises(RegistryError, match="toy value 'a' is registered already"):
        reg.register("a", 2)
    with pytest.raises(RegistryError, match="toy value 'x' is registered already"):
        reg.register("b", 2, aliases=("x",))
    reg.register("a", 3, aliases=("y",), replace=True)
    assert reg.get("y") == 3 and "x" not in reg and reg.names() == ["a"]


def test_check_sees_lazy_entries_and_a_failing_import_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "bad_mod_c2.py").write_text("raise ValueError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    reg: Registry[int] = Registry("toy value", check=lambda n, v: seen.append(n) or v * 2)
    reg.register("four", "math:tau")
    reg.register("bad", "bad_mod_c2:X")
    reg.register("missing", "no_such_module_c2:X")
    assert reg.get("four") == pytest.approx(4 * np.pi) and seen == ["four"]
    reg.get("four")
    assert seen == ["four"]  # checked once, when imported
    with pytest.raises(RegistryError, match=r"^toy value 'bad': cannot load 'bad_mod_c2:X' "
                                            r"\(ValueError: boom at import\)$"):
        reg.get("bad")
    with pytest.raises(RegistryError, match="no_such_module_c2"):
        reg.get("missing")
    monkeypatch.delitem(sys.modules, "bad_mod_c2", raising=False)


def test_entry_point_groups_follow_the_kind():
    assert ENCODER_TYPES.group == "bench.encoder-types"
    assert PATH_RESOLVERS.group == "bench.encoder-path-resolvers"
    assert TASKS.group == "bench.tasks" and COMMANDS.group == "bench.commands"


def test_builtin_encoder_types_are_declared_not_imported_by_the_registry():
    """The registry module names its built-in types as strings: it imports none of their
    modules (simcse-run lives in bench.train, a layer above)."""
    source = Path(sys.modules["bench.encoders.registry"].__file__).read_text()
    assert "bench.train.checkpoint:from_recipe" in source
    assert "import bench.train" not in source and "from bench.train" not in source
    assert ENCODER_TYPES.names() == ["transformer", "sentence-transformers", "glove-avg",
                                     "postprocessed", "paper-model", "simcse-run"]


def test_builtin_tasks_pass_the_checks_of_register():
    """The built-in records are registered before plugins are looked for, without register:
    they must pass its checks all the same."""
    for meta in catalog.BUILTIN:
        for name in (meta.name, *meta.aliases):
            check_name(name)
            assert name.lower() not in reserved_names(meta.family)
        assert set(meta.eval_parts) <= set(meta.parts)
    assert [m.name for m in catalog.BUILTIN] == list(TASKS.names())[:len(catalog.BUILTIN)]


# --- third-party plugins through entry points -----------------------------------------------

PLUGIN = '''
"""A third-party bench plugin: an encoder type, a path resolver, a task and a command."""
from pathlib import Path

from bench.tasks.taskfile import parse_task_file
from tests.helpers import HashEncoder


class ToyEncoder(HashEncoder):
    def spec(self):
        return {"type": "toy-hash", "dim": self.dim}


def factory(config, options, name):
    return ToyEncoder(dim=int(config.get("dim", 8)))


def resolve_path(path, options):
    return ToyEncoder(dim=int(path.read_text())) if path.suffix == ".toy" else None


TASK = parse_task_file(Path(__file__).with_name("toysts") / "toy.toml")


def register(sub):
    p = sub.add_parser("toy", help="a plugin's command")
    p.set_defaults(func=lambda args: print("toy command ran") or 0)
'''
TASK_TOML = """name = "PluginSTS"
format = "tsv"
sentence1 = "sentence1"
sentence2 = "sentence2"
score = "score"
score_range = [0, 5]
evaluate = "test"
[files]
test = "test.tsv"
"""
ROWS = [(f"a sentence number {i}", f"another one, {i * 7 % 11}", str(i % 6)) for i in range(24)]


def _install(root: Path, entry_points: str, module: str = PLUGIN) -> None:
    """A distribution as pip would leave it: the module, and dist-info with entry points."""
    dist = root / "toyplugin_c2-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin-c2\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (root / "toyplugin_c2.py").write_text(module, encoding="utf-8")
    data = root / "toysts"
    data.mkdir()
    (data / "toy.toml").write_text(TASK_TOML, encoding="utf-8")
    (data / "test.tsv").write_text("sentence1\tsentence2\tscore\n"
                                   + "".join("\t".join(r) + "\n" for r in ROWS))


@pytest.fixture
def installed(tmp_path):
    """Put a fake distribution on sys.path; take it away and forget it afterwards."""
    root = tmp_path / "site"
    root.mkdir()

    def install(entry_points: str, module: str = PLUGIN) -> None:
        _install(root, entry_points, module)
        sys.path.insert(0, str(root))
        for registry in REGISTRIES:
            registry.refresh_plugins()

    yield install
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.modules.pop("toyplugin_c2", None)
    for registry in REGISTRIES:
        registry.refresh_plugins()
    assert "PluginSTS" not in TASKS and "toy-hash" not in ENCODER_TYPES


ENTRY_POINTS = """
    [bench.encoder-types]
    toy-hash = toyplugin_c2:factory
    [bench.encoder-path-resolvers]
    toy = toyplugin_c2:resolve_path
    [bench.tasks]
    PluginSTS = toyplugin_c2:TASK
    [bench.commands]
    toy = toyplugin_c2
"""


def _reference_spearman(encoder: HashEncoder) -> float:
    """Cosine Spearman in points, with numpy/scipy, not bench's scorer."""
    a = encoder.encode([r[0] for r in ROWS]).astype(np.float64)
    b = encoder.encode([r[1] for r in ROWS]).astype(np.float64)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return 100 * stats.spearmanr(cos, [float(r[2]) for r in ROWS])[0]


def test_a_plugin_package_adds_an_encoder_type_a_task_and_a_command(installed, tmp_path,
                                                                      capsys):
    installed(ENTRY_POINTS)
    assert main(["list", "encoder-types"]) == 0
    assert "toy-hash\tpackage toyplugin-c2\n" in capsys.readouterr().out
    assert main(["list", "tasks"]) == 0
    listed = capsys.readouterr().out
    assert "PluginSTS\tsts\tuser\t" in listed and "STS12\tsts\tsts\tbench\t" in listed
    assert get("pluginsts").name == "PluginSTS"
    assert "PluginSTS" not in set_names()["sts"]  # installing a package never changes --tasks sts
    assert "PluginSTS" in [m.name for m in select(["user"])]
    encoder = build({"type": "toy-hash", "dim": 12}, EncoderOptions(), "toy")
    assert encoder.spec() == {"type": "toy-hash", "dim": 12}
    model = tmp_path / "model.toy"
    model.write_text("12")
    assert resolve(str(model)).spec() == {"type": "toy-hash", "dim": 12}
    assert main(["toy"]) == 0 and capsys.readouterr().out == "toy command ran\n"

    out = tmp_path / "run.json"
    assert main(["run", "--model", str(model), "--tasks", "PluginSTS", "--protocol",
                 "all-spearman", "--no-cache", "--quiet", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (scores,) = [s["values"] for s in report["scores"]
                 if s["protocol"]["key"] == "all-spearman"]
    assert scores["PluginSTS"] == pytest.approx(_reference_spearman(HashEncoder(dim=12)),
                                             abs=1e-9)


def test_a_plugin_cannot_take_a_builtin_name(installed, capsys):
    installed("""
        [bench.encoder-types]
        transformer = toyplugin_c2:factory
        [bench.tasks]
        STS-B = toyplugin_c2:TASK
    """)
    assert ENCODER_TYPES.plugin("transformer") is None
    assert TASKS.names().count("STSBenchmark") == 1 and "STS-B" not in TASKS.names()
    err = capsys.readouterr().err
    assert "encoder type 'transformer' of package 'toyplugin-c2' ignored" in err
    assert "task 'STS-B' of package 'toyplugin-c2' ignored" in err


@pytest.mark.parametrize("entry, message", [
    ("toyplugin_c2:factory", "task 'PluginSTS' of package 'toyplugin-c2' (entry point group "
     "bench.tasks) is a function, not a bench TaskMetadata"),
    ("toyplugin_c2:NOPE", "task 'PluginSTS': cannot load 'toyplugin_c2:NOPE' (AttributeError"),
])
def test_a_bad_plugin_task_is_one_line(installed, capsys, entry, message):
    installed(f"[bench.tasks]\nPluginSTS = {entry}\n")
    assert main(["list", "tasks"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bench: error: {message}") and err.count("\n") == 1


def test_a_plugin_task_whose_name_disagrees_is_refused(installed):
    installed("[bench.tasks]\nOtherSTS = toyplugin_c2:TASK\n")
    with pytest.raises(DataError, match="names its task 'PluginSTS'; the two names must agree"):
        get("STS12")  # every look-up checks every task: a bad plugin is never half-used


def test_a_plugin_task_named_like_a_set_is_refused(installed):
    installed("[bench.tasks]\nevery = toyplugin_c2:TASK\n",
              PLUGIN + "\nimport dataclasses\nTASK = dataclasses.replace(TASK, name='every')\n")
    with pytest.raises(DataError, match="task 'every' of package 'toyplugin-c2' .*: task "
                                        "'every': name or alias 'every' is the name of a task "
                                        "set"):
        select(["sts"])


def test_a_broken_command_plugin_is_one_line_not_a_traceback(installed, capsys):
    installed("[bench.commands]\nbroken = toyplugin_c2_missing\n")
    assert main(["--help"]) == 2
    err = capsys.readouterr().err
    assert err == ("bench: error: command 'broken': cannot load 'toyplugin_c2_missing' "
                   "(ModuleNotFoundError: No module named 'toyplugin_c2_missing')\n")
