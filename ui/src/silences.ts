// The Silences page: the Alertmanager UI's job over the built-in Alertmanager's API v2 — silences by
// state (active / pending / expired) with Expire, Edit and Recreate, and the new-silence form
// (matchers, start, duration or end, creator, comment) that previews the alerts it would silence.
// URL: ?state=expired, ?new=1&matcher=alertname%3D%22X%22 (prefilled form), ?edit=<id>, ?recreate=<id>.
import { append, h, notice, replace } from "./dom";
import { formatDuration, parseDuration } from "./duration";
import { getJSON, sendJSON } from "./api";
import type { AMAlert } from "./api/types/am-alerts";
import type { Silence, SilenceState } from "./api/types/am-silences";
import { type Route, navigate, setParams } from "./router";
import {
  MATCH_OPS,
  type MatchOp,
  type Matcher,
  absTime,
  errorText,
  fromAPI,
  labelChips,
  matcherChips,
  matcherText,
  matchesSearch,
  parseMatcher,
  searchBox,
  timeEl,
  toAPI,
  toggle,
} from "./pages/common";

const STATES: SilenceState[] = ["active", "pending", "expired"];
const DEFAULT_DURATION = "2h";
const CREATOR_KEY = "vigil.silences.creator";

export async function silencesPage(root: HTMLElement, route: Route): Promise<void> {
  const p = route.params;
  if (p.get("new") || p.get("edit") || p.get("recreate")) return silenceForm(root, p);
  return silenceList(root, p);
}

// ---------------------------------------------------------------- the list

async function silenceList(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const requested = params.get("state") as SilenceState | null;
  let state: SilenceState = requested && STATES.includes(requested) ? requested : "active";
  let search = params.get("search") ?? "";
  const saved = params.get("saved");
  let silences: Silence[] = [];
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Silence state" });
  const list = h("div", { class: "section silences" });
  const message = h("div", { "aria-live": "polite" });

  const save = (): void => {
    const q = new URLSearchParams();
    if (state !== "active") q.set("state", state);
    if (search) q.set("search", search);
    setParams(q);
  };

  const draw = (): void => {
    replace(
      tabs,
      STATES.map((s) =>
        toggle(`${s[0].toUpperCase()}${s.slice(1)} (${silences.filter((x) => x.status.state === s).length})`, s === state, () => {
          state = s;
          save();
          draw();
        }, { "data-state": s }),
      ),
    );
    const shown = silences.filter(
      (s) =>
        s.status.state === state &&
        matchesSearch(search, s.createdBy, s.comment, s.id, ...s.matchers.map((m) => matcherText(fromAPI(m)))),
    );
    if (!shown.length) replace(list, h("p", { class: "body muted" }, `No ${state} silences${search ? " match the filter" : ""}.`));
    else replace(list, shown.map((s) => silenceItem(s, expire)));
  };

  const load = async (): Promise<void> => {
    try {
      silences = await getJSON<Silence[]>("/api/v2/silences");
    } catch (err) {
      replace(list, notice("error", `Could not load silences: ${errorText(err)}`));
      return;
    }
    draw();
  };

  const expire = async (s: Silence): Promise<void> => {
    try {
      await sendJSON("DELETE", `/api/v2/silence/${encodeURIComponent(s.id)}`);
      replace(message, notice("info", `Silence ${s.id} expired.`));
    } catch (err) {
      replace(message, notice("error", `Could not expire silence ${s.id}: ${errorText(err)}`));
    }
    await load();
  };

  if (saved) message.append(notice("info", `Silence ${saved} saved.`));
  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Silences"), h("a", { class: "button", href: "/silences?new=1" }, "New silence")),
    h(
      "div",
      { class: "toolbar" },
      tabs,
      searchBox("Filter by matcher, creator or comment", search, (value) => {
        search = value;
        save();
        draw();
      }),
    ),
    message,
    list,
  );
  await load();
}

function silenceItem(s: Silence, expire: (s: Silence) => Promise<void>): HTMLElement {
  const expired = s.status.state === "expired";
  return h(
    "div",
    { class: "silence", "data-silence-id": s.id, "data-state": s.status.state },
    h(
      "div",
      null,
      matcherChips(s.matchers.map(fromAPI)),
      h(
        "div",
        { class: "meta" },
        h("span", null, "starts ", h("b", null, absTime(s.startsAt)), " (", timeEl(s.startsAt), ")"),
        h("span", null, expired ? "ended " : "ends ", h("b", null, absTime(s.endsAt)), " (", timeEl(s.endsAt), ")"),
        h("span", null, "created by ", h("b", { class: "creator" }, s.createdBy)),
        h("span", null, "id ", h("code", null, s.id)),
      ),
      s.comment ? h("div", { class: "comment" }, s.comment) : null,
    ),
    h(
      "div",
      { class: "actions" },
      expired
        ? h("a", { class: "button", href: `/silences?recreate=${encodeURIComponent(s.id)}` }, "Recreate")
        : [
            h("a", { class: "button", href: `/silences?edit=${encodeURIComponent(s.id)}` }, "Edit"),
            h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: (e: Event) => {
                  (e.currentTarget as HTMLButtonElement).disabled = true;
                  void expire(s);
                },
              },
              "Expire",
            ),
          ],
    ),
  );
}

// ---------------------------------------------------------------- the form

interface FormState {
  id: string;
  matchers: Matcher[];
  start: string;
  duration: string;
  end: string;
  createdBy: string;
  comment: string;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

async function initialForm(params: URLSearchParams): Promise<{ form: FormState; title: string; problems: string[] }> {
  const now = Date.now();
  const problems: string[] = [];
  const form: FormState = {
    id: "",
    matchers: [],
    start: isoSeconds(now),
    duration: DEFAULT_DURATION,
    end: isoSeconds(now + (parseDuration(DEFAULT_DURATION) ?? 0)),
    createdBy: localStorage.getItem(CREATOR_KEY) ?? "",
    comment: "",
  };
  const existing = params.get("edit") || params.get("recreate");
  let title = "New silence";
  if (existing) {
    const s = await getJSON<Silence>(`/api/v2/silence/${encodeURIComponent(existing)}`);
    form.matchers = s.matchers.map(fromAPI);
    form.createdBy = s.createdBy;
    form.comment = s.comment;
    if (params.get("edit")) {
      title = "Edit silence";
      form.id = s.id;
      form.start = isoSeconds(Math.max(Date.parse(s.startsAt), 0));
      form.end = isoSeconds(Date.parse(s.endsAt));
      form.duration = formatDuration(Date.parse(s.endsAt) - Date.parse(form.start));
    } else {
      title = "Recreate silence";
      const span = Date.parse(s.endsAt) - Date.parse(s.startsAt);
      form.duration = span > 0 ? formatDuration(Math.round(span / 1000) * 1000) : DEFAULT_DURATION;
      form.end = isoSeconds(now + (parseDuration(form.duration) ?? 0));
    }
  }
  for (const text of params.getAll("matcher")) {
    const m = parseMatcher(text);
    if (m) form.matchers.push(m);
    else problems.push(`Ignored the matcher ${JSON.stringify(text)} from the link: it is not name="value".`);
  }
  if (!form.matchers.length) form.matchers.push({ name: "", op: "=", value: "" });
  return { form, title, problems };
}

async function silenceForm(root: HTMLElement, params: URLSearchParams): Promise<void> {
  let loaded: Awaited<ReturnType<typeof initialForm>>;
  try {
    loaded = await initialForm(params);
  } catch (err) {
    root.append(h("h1", null, "Silence"), notice("error", `Could not load the silence: ${errorText(err)}`));
    return;
  }
  const { form, title, problems } = loaded;
  const mode = params.get("edit") ? "edit" : params.get("recreate") ? "recreate" : "new";

  const rows = h("div", { class: "matchers" });
  const preview = h("div", { class: "preview", "aria-live": "polite" });
  const errors = h("div", { "aria-live": "assertive" });

  const syncURL = (): void => {
    const q = new URLSearchParams();
    if (mode === "edit") q.set("edit", params.get("edit") ?? "");
    else if (mode === "recreate") q.set("recreate", params.get("recreate") ?? "");
    else q.set("new", "1");
    if (mode === "new") for (const m of form.matchers) if (m.name) q.append("matcher", matcherText(m));
    setParams(q);
  };

  const drawRows = (focusLast = false): void => {
    replace(
      rows,
      form.matchers.map((m, i) => {
        const n = i + 1;
        return h(
          "div",
          { class: "matcher-row" },
          h("input", {
            type: "text",
            class: "matcher-name",
            value: m.name,
            placeholder: "label name",
            "aria-label": `Matcher ${n} name`,
            required: true,
            oninput: (e: Event) => {
              m.name = (e.target as HTMLInputElement).value.trim();
              syncURL();
            },
            onchange: () => void runPreview(),
          }),
          h(
            "select",
            {
              class: "matcher-op",
              "aria-label": `Matcher ${n} operator`,
              onchange: (e: Event) => {
                m.op = (e.target as HTMLSelectElement).value as MatchOp;
                syncURL();
                void runPreview();
              },
            },
            MATCH_OPS.map((op) => h("option", { value: op, selected: op === m.op }, op)),
          ),
          h("input", {
            type: "text",
            class: "matcher-value",
            value: m.value,
            placeholder: "value",
            "aria-label": `Matcher ${n} value`,
            oninput: (e: Event) => {
              m.value = (e.target as HTMLInputElement).value;
              syncURL();
            },
            onchange: () => void runPreview(),
          }),
          h(
            "button",
            {
              type: "button",
              "aria-label": `Remove matcher ${n}`,
              disabled: form.matchers.length === 1,
              onclick: () => {
                form.matchers.splice(i, 1);
                drawRows();
                syncURL();
                void runPreview();
              },
            },
            "Remove",
          ),
        );
      }),
    );
    if (focusLast) rows.querySelector<HTMLInputElement>(".matcher-row:last-child .matcher-name")?.focus();
  };

  const matchersProblem = (): string | null => {
    if (!form.matchers.length) return "Add at least one matcher.";
    for (const [i, m] of form.matchers.entries()) {
      if (!m.name) return `Matcher ${i + 1} needs a label name.`;
    }
    return null;
  };

  let previewSeq = 0;
  const runPreview = async (): Promise<void> => {
    const seq = ++previewSeq;
    const problem = matchersProblem();
    if (problem) {
      replace(preview, h("p", { class: "muted" }, `Preview: ${problem}`));
      return;
    }
    let alerts: AMAlert[];
    try {
      alerts = await getJSON<AMAlert[]>("/api/v2/alerts", { filter: form.matchers.map(matcherText) });
    } catch (err) {
      if (seq === previewSeq) replace(preview, notice("error", `Preview failed: ${errorText(err)}`));
      return;
    }
    if (seq !== previewSeq) return;
    replace(
      preview,
      h("h2", null, `Affected alerts (${alerts.length})`),
      alerts.length
        ? h(
            "table",
            { class: "data affected" },
            h("thead", null, h("tr", null, ["Labels", "State", "Started"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              null,
              alerts.map((a) =>
                h(
                  "tr",
                  null,
                  h("td", null, labelChips(a.labels)),
                  h("td", null, a.status.silencedBy.length ? "silenced" : a.status.state),
                  h("td", null, timeEl(a.startsAt)),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No current alert matches these matchers."),
    );
  };

  // Start, duration and end stay consistent: changing start or duration moves the end; changing
  // the end changes the duration.
  const startInput = h("input", { type: "text", value: form.start, "aria-describedby": "time-help", spellcheck: "false" });
  const durationInput = h("input", { type: "text", value: form.duration, spellcheck: "false" });
  const endInput = h("input", { type: "text", value: form.end, spellcheck: "false" });
  const fromStartAndDuration = (): void => {
    const start = Date.parse(startInput.value);
    const span = parseDuration(durationInput.value);
    if (Number.isFinite(start) && span !== null) endInput.value = isoSeconds(start + span);
  };
  startInput.addEventListener("input", fromStartAndDuration);
  durationInput.addEventListener("input", fromStartAndDuration);
  endInput.addEventListener("input", () => {
    const start = Date.parse(startInput.value);
    const end = Date.parse(endInput.value);
    if (Number.isFinite(start) && Number.isFinite(end) && end > start) durationInput.value = formatDuration(end - start);
  });
  const creatorInput = h("input", { type: "text", value: form.createdBy, autocomplete: "username" });
  const commentInput = h("textarea", null, form.comment);
  const submit = h("button", { type: "submit", class: "primary" }, mode === "edit" ? "Update silence" : "Create silence");

  const onSubmit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const problemsNow: string[] = [];
    const mp = matchersProblem();
    if (mp) problemsNow.push(mp);
    const start = Date.parse(startInput.value);
    const end = Date.parse(endInput.value);
    if (!Number.isFinite(start)) problemsNow.push(`Start ${JSON.stringify(startInput.value)} is not a time (e.g. 2026-01-02T15:04:05Z).`);
    if (!Number.isFinite(end)) problemsNow.push(`End ${JSON.stringify(endInput.value)} is not a time (e.g. 2026-01-02T17:04:05Z).`);
    if (!creatorInput.value.trim()) problemsNow.push("Creator is required.");
    if (!commentInput.value.trim()) problemsNow.push("Comment is required.");
    if (problemsNow.length) {
      replace(errors, notice("error", h("ul", null, problemsNow.map((p) => h("li", null, p)))));
      return;
    }
    localStorage.setItem(CREATOR_KEY, creatorInput.value.trim());
    const body: Record<string, unknown> = {
      matchers: form.matchers.map(toAPI),
      startsAt: new Date(start).toISOString(),
      endsAt: new Date(end).toISOString(),
      createdBy: creatorInput.value.trim(),
      comment: commentInput.value,
    };
    if (form.id) body.id = form.id;
    submit.disabled = true;
    try {
      const { silenceID } = await sendJSON<{ silenceID: string }>("POST", "/api/v2/silences", body);
      navigate(`/silences?state=${start > Date.now() ? "pending" : "active"}&saved=${encodeURIComponent(silenceID)}`);
    } catch (err) {
      replace(errors, notice("error", `The Alertmanager refused the silence: ${errorText(err)}`));
      submit.disabled = false;
    }
  };

  const field = (label: string, control: HTMLElement, hint?: string): HTMLLabelElement =>
    h("label", { class: "field" }, h("span", null, label), control, hint ? h("small", { class: "muted" }, hint) : null);

  append(root, [
    h("div", { class: "page-head" }, h("h1", null, title), h("a", { href: "/silences" }, "Back to silences")),
    problems.map((p) => notice("warn", p)),
    form.id ? h("p", { class: "muted" }, "Editing silence ", h("code", null, form.id)) : null,
    h(
      "form",
      { class: "silence-form", novalidate: true, onsubmit: (e: Event) => void onSubmit(e) },
      h(
        "fieldset",
        null,
        h("legend", null, "Matchers (alerts matching all of them are silenced)"),
        rows,
        h(
          "button",
          {
            type: "button",
            onclick: () => {
              form.matchers.push({ name: "", op: "=", value: "" });
              drawRows(true);
            },
          },
          "Add matcher",
        ),
      ),
      h(
        "div",
        { class: "field-row" },
        field("Start", startInput),
        field("Duration", durationInput, "e.g. 2h, 1d, 30m"),
        field("End", endInput),
      ),
      h("small", { id: "time-help", class: "muted" }, "Times are UTC, as RFC 3339 (2026-01-02T15:04:05Z)."),
      field("Creator", creatorInput),
      field("Comment", commentInput),
      errors,
      h(
        "div",
        { class: "toolbar" },
        submit,
        h("button", { type: "button", onclick: () => void runPreview() }, "Preview alerts"),
      ),
      preview,
    ),
  ]);
  drawRows();
  await runPreview();
}
