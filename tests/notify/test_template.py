"""Alertmanager's template data model and template set: what `.Alerts.Firing`, `.SortedPairs`,
`.Remove` and friends return, how user templates override the defaults, and html/template's
escaping of the email body. (Rendering against the real Alertmanager: test_side_by_side.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE
from vigil.model.alert import Alert, fingerprint
from vigil.model.labels import Labels
from vigil.notify.template import DEFAULT_TEMPLATES, Templates, go_time, template_data
from vigil.template import TemplateError

NOW = 1_700_000_000.0


def _alert(instance: str, ends_at: float = 0.0, **annotations: str) -> Alert:
    return Alert(
        Labels.from_dict({"alertname": "Down", "instance": instance, "job": "node"}),
        Labels.from_dict(annotations),
        starts_at=NOW - 60,
        ends_at=ends_at,
    )


DATA = template_data(
    "team.a (eu)",
    Labels.from_dict({"alertname": "Down"}),
    [
        _alert("h1", summary="down", runbook="r1"),
        _alert("h2", ends_at=NOW - 1, summary="down"),
        _alert("h3", ends_at=NOW + 300, summary="down"),
    ],
    NOW,
    "http://am:9093",
)
TEMPLATES = Templates.load(now=lambda: NOW)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("{{ .Receiver }}", r"team\.a \(eu\)"),  # regexp-quoted, as Alertmanager does
        ("{{ .Status }} {{ len .Alerts }}", "firing 3"),
        ("{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}", "h1 h3 "),
        ("{{ range .Alerts.Resolved }}{{ .Labels.instance }}:{{ .Status }}{{ end }}", "h2:resolved"),
        ("{{ .GroupLabels.SortedPairs.Names }} {{ .GroupLabels.Values }}", "[alertname] [Down]"),
        ("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }},{{ end }}", "alertname=Down,job=node,"),
        ("{{ (.CommonLabels.Remove .GroupLabels.Names).Names }}", "[job]"),
        ("{{ .CommonAnnotations.Names }} {{ .CommonAnnotations.summary }}", "[summary] down"),
        ("{{ .CommonLabels.missing }}|{{ .ExternalURL }}", "|http://am:9093"),
        ("{{ with index .Alerts 0 }}{{ .StartsAt }} {{ .EndsAt }}{{ end }}",
         "2023-11-14 22:12:20 +0000 UTC 0001-01-01 00:00:00 +0000 UTC"),
        ("{{ (index .Alerts 1).EndsAt.Unix }} {{ (index .Alerts 0).GeneratorURL }}", "1699999999 "),
        ('{{ template "slack.default.title" . }}', "[FIRING:2] Down (node)"),
        ('{{ template "email.default.subject" . }}', "[FIRING:2] Down (node)"),
        ('{{ template "slack.default.titlelink" . }}', "http://am:9093/#/alerts?receiver=team%5C.a+%5C%28eu%5C%29"),
        ('{{ template "slack.default.text" . }}{{ template "slack.default.footer" . }}', ""),
        ("", ""),
    ],
)  # fmt: skip
def test_data_model(text: str, want: str) -> None:
    assert TEMPLATES.text(text, DATA) == want


def test_fingerprint_is_the_alerts() -> None:
    assert (
        TEMPLATES.text("{{ (index .Alerts 2).Fingerprint }}", DATA)
        == f"{fingerprint(_alert('h3').labels):016x}"
    )


def test_webhook_json_shape() -> None:
    body = DATA.to_json()
    assert (list(body), list(body["alerts"][1]), body["alerts"][1]["endsAt"]) == (
        [
            "receiver",
            "status",
            "alerts",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
        ],
        [
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        ],
        "2023-11-14T22:13:19Z",
    )


def test_default_templates_are_the_shared_copy() -> None:
    """The packaged default.tmpl is byte-for-byte the conformance copy of Alertmanager's."""
    packaged = Path(__file__).resolve().parents[2] / "src/vigil/notify/templates"
    shared = (CONFORMANCE / "alertmanager" / "default.tmpl").read_text()
    assert (packaged / DEFAULT_TEMPLATES[0]).read_text() == shared
    assert {"email.default.html", "slack.default.title", "__subject"} <= set(TEMPLATES.defined())


def test_user_templates_override_defaults_and_empty_ones_do_not(tmp_path: Path) -> None:
    (tmp_path / "a.tmpl").write_text(
        '{{ define "slack.default.title" }}mine {{ .Status }}{{ end }}'
    )
    (tmp_path / "b.tmpl").write_text('{{ define "__subject" }}{{ end }}{{ define "x" }}X{{ end }}')
    templates = Templates.load([str(tmp_path / "*.tmpl")], now=lambda: NOW)
    text = '{{ template "slack.default.title" . }}|{{ template "email.default.subject" . }}|{{ template "x" }}'
    assert templates.text(text, DATA) == "mine firing|[FIRING:2] Down (node)|X"


@pytest.mark.parametrize(
    ("file_text", "error"),
    [
        ('{{ define "a" }}{{ .X', "template: {path}:1: unclosed action"),
        ("{{ nosuchfunc }}", 'template: {path}:1: function "nosuchfunc" not defined'),
    ],
)
def test_user_template_errors_name_the_file(tmp_path: Path, file_text: str, error: str) -> None:
    path = tmp_path / "bad.tmpl"
    path.write_text(file_text)
    with pytest.raises(TemplateError) as info:
        Templates.load([str(tmp_path / "*.tmpl")])
    assert str(info.value) == error.format(path=path)


def test_go_zero_time_prints_four_digit_year() -> None:
    """A firing alert's EndsAt is Go's zero time; `{{ .EndsAt }}` must print it as Go does."""
    assert str(go_time(0.0)) == "0001-01-01 00:00:00 +0000 UTC"


# html/template cases; test_side_by_side.py checks the same table against Alertmanager's emails.
HTML_DEFINES = '{{ define "u" }}{{ .url }}{{ end }}'
HTML_DATA = {
    "v": "a<b> & \"c\" 'd' +",
    "url": "http://x/a b?q=1&r=<",
    "js": "javascript:alert(1)",
    "tag": "<b>x</b>",
}
HTML_CASES = [
        ("<p>{{ .v }}</p>", "<p>a&lt;b&gt; &amp; &#34;c&#34; &#39;d&#39; &#43;</p>"),
        ('<a href="{{ .url }}">', '<a href="http://x/a%20b?q=1&amp;r=%3c">'),
        ('<a href="{{ .js }}">', '<a href="#ZgotmplZ">'),
        ('<a href="http://x/?q={{ .v }}">', '<a href="http://x/?q=a%3cb%3e%20%26%20%22c%22%20%27d%27%20%2b">'),
        ('<a href="http://x/?q={{ .v | urlquery }}">', '<a href="http://x/?q=a%3Cb%3E&#43;%26&#43;%22c%22&#43;%27d%27&#43;%2B">'),
        ('<td title="{{ .v }}">', '<td title="a&lt;b&gt; &amp; &#34;c&#34; &#39;d&#39; &#43;">'),
        ("<title>{{ .v }}</title>", "<title>a&lt;b&gt; &amp; &#34;c&#34; &#39;d&#39; &#43;</title>"),
        ("a<!-- note -->b{{ safeHtml .tag }}", "ab<b>x</b>"),
        ('<a href="{{ template "u" . }}">{{ template "u" . }}', '<a href="http://x/a%20b?q=1&amp;r=%3c">http://x/a b?q=1&amp;r=&lt;'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "want"), HTML_CASES)
def test_html_escaping(text: str, want: str) -> None:
    assert TEMPLATES.html(HTML_DEFINES + text, HTML_DATA) == want  # type: ignore[arg-type]
