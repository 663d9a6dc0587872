"""The Query page's editor tools, as a user sees them: a parse error marked where Prometheus
points, PromQL highlighted as typed, the history of queries run from this browser, the metrics
explorer (names with TYPE and HELP from /api/v1/metadata), and the step placeholder shown whole."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.test_query import MULTI, api, now_with_data, query_url

pytestmark = pytest.mark.slow


def test_a_parse_error_is_marked_where_prometheus_points(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    expr = "sum by (job instance) (up)"
    page.goto(query_url(server, expr=expr, tab="1"))
    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "error")
    expect(panel.get_by_role("alert")).to_have_text(
        'invalid parameter "query": 1:13: parse error: unexpected identifier "instance" '
        'in grouping opts, expected "," or ")"'
    )
    editor = page.get_by_role("combobox", name="Expression")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(panel.locator("mark.promql-error")).to_have_text("instance")

    # Editing clears the mark; the fixed query runs.
    editor.fill("sum by (job, instance) (up)")
    expect(panel.locator("mark.promql-error")).to_have_count(0)
    expect(editor).not_to_have_attribute("aria-invalid", "true")
    editor.press("Enter")
    expect(panel).to_have_attribute("data-query-state", "done")

    # An error at the end of the input marks the place after the last token.
    editor.fill("rate(up[5m]) +")
    editor.press("Enter")
    expect(panel.get_by_role("alert")).to_contain_text("1:15: parse error: unexpected end of input")
    expect(panel.locator("mark.promql-error")).to_have_count(1)


def test_promql_is_highlighted_over_the_editor(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/query")
    editor = page.get_by_role("combobox", name="Expression")
    text = 'sum by (job) (rate(up{job="vigil"}[5m])) > 0.5 # busy'
    editor.fill(text)
    painted = page.locator(".promql-highlight")
    expect(painted.locator(".tok-aggregation")).to_have_text("sum")
    expect(painted.locator(".tok-function")).to_have_text("rate")
    expect(painted.locator(".tok-label")).to_have_text(["job", "job"])
    expect(painted.locator(".tok-string")).to_have_text('"vigil"')
    expect(painted.locator(".tok-duration")).to_have_text("5m")
    expect(painted.locator(".tok-number")).to_have_text("0.5")
    expect(painted.locator(".tok-comment")).to_have_text("# busy")
    assert painted.text_content() == text + "\n"
    # The coloured text lies exactly under the (transparent) text the user edits.
    assert painted.bounding_box() == editor.bounding_box()
    colour = "el => getComputedStyle(el).color"
    assert painted.locator(".tok-function").evaluate(colour) != painted.locator(
        ".tok-metric"
    ).evaluate(colour)
    assert editor.evaluate(colour) == "rgba(0, 0, 0, 0)"


def test_history_keeps_queries_run_in_this_browser(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/query")
    editor = page.get_by_role("combobox", name="Expression")
    panel = page.locator(".query-panel")
    history = page.get_by_role("button", name="History", exact=True)
    history.click()
    expect(page.get_by_role("group", name="Query history")).to_contain_text("No queries yet")
    history.click()
    for expr in ("up", "count(up)", "up"):
        editor.fill(expr)
        editor.press("Enter")
        expect(panel).to_have_attribute("data-query-state", "done")

    page.reload()
    history = page.get_by_role("button", name="History", exact=True)
    history.click()
    expect(history).to_have_attribute("aria-expanded", "true")
    items = page.get_by_role("group", name="Query history").locator(".history-item")
    expect(items).to_have_text(["up", "count(up)"])
    expect(items.first).to_be_focused()
    items.nth(1).click()
    expect(editor).to_have_value("count(up)")
    expect(editor).to_be_focused()
    expect(page.get_by_role("group", name="Query history")).to_be_hidden()

    history.click()
    page.get_by_role("button", name="Clear history").click()
    history.click()
    expect(page.get_by_role("group", name="Query history")).to_contain_text("No queries yet")


def test_metrics_explorer_shows_type_and_help_and_inserts_the_name(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    now_with_data(server)
    # The OpenMetrics family of node_cpu_seconds_total is node_cpu_seconds.
    metadata = api(server, "/api/v1/metadata", metric=MULTI.removesuffix("_total"))
    metadata = metadata[MULTI.removesuffix("_total")][0]
    page.goto(server + "/query")
    editor = page.get_by_role("combobox", name="Expression")
    editor.fill("sum(rate([5m]))")
    editor.evaluate("el => el.setSelectionRange(9, 9)")
    page.get_by_role("button", name="Metrics").click()
    dialog = page.get_by_role("dialog", name="Metrics explorer")
    expect(dialog).to_be_visible()
    search = dialog.get_by_role("searchbox", name="Search metrics")
    expect(search).to_be_focused()
    expect(dialog.locator(".explorer-count")).to_contain_text(" metrics")

    # Searching the help text finds the metric too.
    search.fill(metadata["help"].split()[0] + " " + MULTI.split("_")[1])
    row = dialog.locator("tbody tr").filter(has=page.get_by_role("button", name=MULTI, exact=True))
    expect(row.locator("td")).to_have_text([MULTI, metadata["type"], metadata["help"]])
    row.get_by_role("button", name=MULTI, exact=True).click()
    expect(dialog).to_have_count(0)
    expect(editor).to_have_value(f"sum(rate({MULTI}[5m]))")
    expect(editor).to_be_focused()


def test_the_step_placeholder_is_shown_whole(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(query_url(server, expr="up", tab="0", range_input="1w"))
    step = page.get_by_role("textbox", name="Resolution (step)")
    expect(step).to_have_attribute("placeholder", "auto (40m19s)")
    text_width, room = step.evaluate(
        """el => {
            const style = getComputedStyle(el);
            const context = document.createElement("canvas").getContext("2d");
            context.font = style.font;
            return [context.measureText(el.placeholder).width,
                    el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)];
        }"""
    )
    assert text_width <= room


def test_completions_show_a_metrics_type_and_help(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    now_with_data(server)
    family = MULTI.removesuffix("_total")
    metadata = api(server, "/api/v1/metadata", metric=family)[family][0]
    page.goto(server + "/query")
    page.get_by_role("combobox", name="Expression").press_sequentially(MULTI[:-3])
    option = page.get_by_role("option").filter(has=page.locator(".completion-text", has_text=MULTI))
    expect(option.locator(".completion-kind")).to_have_text(metadata["type"])
    expect(option.locator(".completion-help")).to_have_text(metadata["help"])
    expect(option).to_have_attribute("title", metadata["help"])
