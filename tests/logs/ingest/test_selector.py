"""Label sets in selector form, as Loki's protobuf and legacy JSON pushes carry them."""

from __future__ import annotations

import pytest

from vigil.logs.ingest.selector import SelectorError, parse_labels
from vigil.model import Labels


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{app="web"}', {"app": "web"}),
        ('{b="2", a="1"}', {"a": "1", "b": "2"}),
        (' { job = "x" ,env="prod"} ', {"job": "x", "env": "prod"}),
        ("{}", {}),
        ('{a="tab\\t quote\\" \\u00e9 \\x41"}', {"a": 'tab\t quote" é A'}),
        ("{a=`raw \\n`}", {"a": "raw \\n"}),
        ('{a="", b="kept"}', {"b": "kept"}),
        ('{a="ünïcode ✓"}', {"a": "ünïcode ✓"}),
    ],
)
def test_parses_label_sets(text: str, want: dict[str, str]) -> None:
    assert parse_labels(text) == Labels.from_dict(want)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('app="web"', "line 1, col 1: syntax error: unexpected identifier 'app'"),
        ("{app=web}", "col 6: syntax error: unexpected identifier 'web', expecting string"),
        ('{app="web"', "col 11: syntax error: unexpected end of input, expecting '}'"),
        ('{app="web",}', "col 12: syntax error: unexpected '}', expecting identifier"),
        ('{app="web", x!="y"}', 'a label set has only name="value" pairs'),
        ('{1app="web"}', "col 2: syntax error: unexpected number '1'"),
        ('{app="web"} trailing', "col 13: syntax error: unexpected identifier 'trailing'"),
        ('{app="web"} |= "x"', "a label set is a selector and nothing else"),
        ('{a="1", a="2"}', "duplicate label name 'a'"),
        ('{a="\\q"}', "invalid escape sequence"),
    ],
)
def test_refuses_what_is_not_a_label_set(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_labels(text)
    assert message in str(err.value)
