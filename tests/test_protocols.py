"""Protocol parsing: presets, spelled forms, 'all', and one clear line for unknown names."""

from __future__ import annotations

import pytest

from bench.errors import ProtocolError
from bench.protocols import Protocol, load_presets, parse_protocols


def test_spelled_forms():
    (p,) = parse_protocols("wmean-pearson")
    assert (p.aggregation, p.metric, p.regressor) == ("wmean", "pearson", "none")
    assert p.key == "wmean-pearson"


def test_every_contains_the_six_no_regressor_combinations():
    keys = {p.key for p in parse_protocols("every")}
    assert {f"{a}-{m}" for a in ("all", "mean", "wmean")
            for m in ("spearman", "pearson")} <= keys


def test_presets_follow_table_b1():
    presets = load_presets()
    assert [p.key for p in presets["simcse"].protocols] == ["all-spearman"]
    assert [p.key for p in presets["bert-flow"].protocols] == ["wmean-spearman"]
    assert {p.key for p in presets["hill2016"].protocols} == {"all-pearson", "all-spearman"}
    assert all(preset.source for preset in presets.values())


def test_lists_are_deduplicated_in_order():
    keys = [p.key for p in parse_protocols("simcse,all-spearman,mean-pearson")]
    assert keys == ["all-spearman", "mean-pearson"]


def test_unknown_protocol_lists_valid_ones():
    with pytest.raises(ProtocolError, match=r"unknown protocol 'median-spearman'; valid: .*simcse"):
        parse_protocols("median-spearman")


def test_invalid_fields_are_rejected():
    with pytest.raises(ProtocolError, match="unknown metric"):
        Protocol("kendall", "all")


def test_round_trip_through_dict():
    p = Protocol("spearman", "wmean", source="x")
    assert Protocol.from_dict(p.to_dict()) == p


def test_every_cosine_is_every_no_regressor_combination():
    keys = [p.key for p in parse_protocols("every-cosine")]
    assert sorted(keys) == sorted(f"{a}-{m}" for a in ("all", "mean", "wmean")
                                  for m in ("spearman", "pearson"))


def test_all_is_a_deprecated_alias_of_every(capsys):
    assert [p.key for p in parse_protocols("all")] == [p.key for p in parse_protocols("every")]
    assert "deprecated" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ("all-spearman", ("spearman", "all", "none")),
    ("WMEAN-pearson-reg", ("pearson", "wmean", "senteval")),
    ("mean-spearman-reg", ("spearman", "mean", "senteval")),
])
def test_parse_is_the_one_spelled_form_parser(text, expected):
    p = Protocol.parse(text)
    assert (p.metric, p.aggregation, p.regressor) == expected
    assert Protocol.parse(p.key) == p


@pytest.mark.parametrize("text", ["all", "spearman-all", "all-kendall", "all-spearman-rag", ""])
def test_parse_refuses_anything_else(text):
    with pytest.raises(ProtocolError):
        Protocol.parse(text)
