"""One self-contained HTML page: the building blocks every page (run, compare, sweep) is made of.

A page must open from a file with no network, so everything travels inside it: Plotly's
JavaScript (``plotly.offline.get_plotlyjs``) once in the head, DataTables through itables'
offline bundle once, then the data of each figure and table. The interactive parts come from
those two libraries: Plotly gives the hover, zoom and legend toggles of the figures, DataTables
(via itables) sorting, paging, a search box and a filter per column. The only JavaScript
written here is the glue in the template and one ``Plotly.newPlot`` call per figure.

Pages are lists of :class:`Section`; :func:`render_page` lays them out with the table of
contents from ``html_template.html``. :func:`sweep_page` turns any set of tables (a sweep
directory's, say) into a page with no knowledge of their columns.
"""
from __future__ import annotations

import functools
import html as _html
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from nscharacterize.core.fileio import atomic_write_text

TEMPLATE = Path(__file__).with_name("html_template.html")
_ids = itertools.count()
_MARKUP = re.compile(r"[<>&\"']")


@dataclass
class Section:
    """A titled part of a page: ``answers`` is the question it answers, in one line."""

    id: str
    title: str
    answers: str = ""
    body: list[str] = field(default_factory=list)
    level: int = 2

    def add(self, *parts: str) -> "Section":
        self.body.extend(p for p in parts if p)
        return self


def esc(text: Any) -> str:
    return _html.escape("" if text is None else str(text))


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def pre(text: str, title: str | None = None) -> str:
    block = f"<pre>{esc(text)}</pre>"
    return f"<details><summary>{esc(title)}</summary>{block}</details>" if title else block


def facts(pairs: Mapping[str, Any] | Iterable[tuple[str, Any]], css: str = "facts") -> str:
    """A small static key / value list (environment, measurement facts)."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_plain(v))}</td></tr>" for k, v in items)
    return f'<table class="{css}">{rows}</table>'


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    if isinstance(value, float):   # 1.7785703712484037e-16 reads 1.779e-16
        return f"{value:.4g}"
    return str(value)


def table(frame: pd.DataFrame, caption: str = "", *, table_id: str | None = None, page_length: int = 25,
          order: list | None = None, wide: tuple[str, ...] = ("why", "reason")) -> str:
    """An interactive DataTables table (itables, offline mode): sortable by any column (click its
    header), searchable, with a filter box under each column and paging past ``page_length``
    rows. Every row of ``frame`` is embedded (a caller that shows part of a file says so). Columns
    named in ``wide`` hold prose."""
    from itables import JavascriptFunction, to_html_datatable

    frame_columns = list(frame.columns)
    if frame.empty:
        return f'<p class="empty">{esc(caption + ": " if caption else "")}no rows.</p>'
    # Column by column into arrays, and one new frame of them: a page has two dozen tables, most of
    # one row and a dozen columns, where pandas' per-column assignment was most of their cost.
    texts: dict[int, list[str]] = {}
    arrays: list = []
    for i in range(frame.shape[1]):  # categoricals and objects are shown as text; numbers stay numbers
        values = frame.iloc[:, i]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            ranks, texts[i] = _text_ranks(values)
            arrays.append(ranks)
        elif pd.api.types.is_float_dtype(values):
            arrays.append(readable_array(values.to_numpy(dtype=float)))
        else:
            arrays.append(values.array)   # integers as they are (a nullable column stays nullable)
    # One header row (a named column index adds one). itables writes column names into the filter
    # row unescaped, and names can come from a run directory's CSV headers: a name holding markup
    # is escaped here (its header cell then shows the entities, never runs them).
    frame = pd.DataFrame(dict(enumerate(arrays)))
    frame.columns = [esc(c) if _MARKUP.search(str(c)) else str(c) for c in frame_columns]
    table_id = table_id or f"t{next(_ids)}"
    options: dict[str, Any] = dict(
        connected=False, table_id=table_id, maxBytes=0, maxRows=0, maxColumns=0, showIndex=False,
        classes="display compact cell-border", column_filters="footer", text_in_header_can_be_selected=False,
        display_logo_when_loading=False, order=order or [], pageLength=page_length,
        lengthMenu=[10, 25, 100, 500, 5000], style="table-layout:auto;width:auto;margin:0;caption-side:top",
        allow_html=False, warn_on_unexpected_types=False, format_floats_in_python=False)
    # one definition per text column (DataTables takes a column's class from the first that names it)
    wide_columns = {i for i, c in enumerate(frame.columns) if c in wide}  # prose: give it room
    column_defs: list[dict] = [{"targets": i, "className": "text wide" if i in wide_columns else "text",
                                "render": JavascriptFunction(_RANK_RENDER % json.dumps(labels))}
                               for i, labels in texts.items()]
    if wide_columns - texts.keys():
        column_defs.append({"targets": sorted(wide_columns - texts.keys()), "className": "wide"})
    unknown = [i for i, a in enumerate(arrays)   # the float columns are readable_array's
               if isinstance(a, np.ndarray) and a.dtype.kind == "f" and np.isnan(a).any()]
    if unknown:   # a value that is not known or does not apply reads "-", not "NaN"; the column still sorts as numbers
        column_defs.append({"targets": unknown, "render": JavascriptFunction(
            "function (data, type) { return (type === 'display' && Number.isNaN(data)) ? '-' : data; }")})
    if column_defs:
        options["columnDefs"] = column_defs
    if len(frame) <= page_length:
        options.update(paging=False, layout={"topStart": None, "topEnd": "search", "bottomStart": "info",
                                             "bottomEnd": None})
    body = to_html_datatable(frame, caption=esc(caption) if caption else None, **options)
    return f'<div class="table" data-rows="{len(frame)}">{body}</div>'


# A text column travels as the 1-based rank of each value among the column's distinct texts (0:
# none), with those texts once, sorted and escaped, in the column's render function: itables' own
# encoding of categorical columns (its static preview decodes it). It sorts by rank, that is by
# code point, and filters and shows the text; the rank is also the column's type (a text type would
# sort the ranks as text: 10 before 9), and class "text" keeps the cells left-aligned as text.
# Why not the texts themselves: itables formats every cell of a text column through pandas'
# generic formatter, padding included; on the run page's op table (3,500 rows) that was most of
# the page's cost (issue 23).
_RANK_RENDER = ("function (data, type, row, meta) { var categories = %s; return type === 'sort' || type === 'type' "
                "? data : (data === 0 ? '' : categories[data - 1]); }")


def _text_ranks(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(rank of each value's text, 1-based, 0 for a missing value; the escaped texts in rank order).
    Values are told apart once per distinct value (a page has a hundred such columns, most short);
    distinct values with one text (1 and "1") share its rank."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, distinct = values.cat.codes.to_numpy(), list(values.cat.categories)
    else:
        try:
            codes, distinct = pd.factorize(values)
        except TypeError:   # unhashable values (lists): by their text
            codes, distinct = pd.factorize(values.map(str, na_action="ignore"))
    texts = [str(v) for v in distinct]
    ordered = sorted(set(texts))
    rank = {t: i + 1 for i, t in enumerate(ordered)}
    by_code = np.array([0] + [rank[t] for t in texts], dtype=np.int64)   # code -1 (missing) -> 0
    return by_code[np.asarray(codes) + 1], [esc(t) for t in ordered]


SIGNIFICANT = 4


def readable_array(x: np.ndarray) -> np.ndarray:
    """Floats rounded to ``SIGNIFICANT`` significant digits (0.00014443283538894 -> 0.0001444),
    whole parts kept (123456.7 -> 123457): still numbers, so columns sort as numbers; the CSV
    files keep every digit."""
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(x)))
    decimals = np.where(np.isfinite(magnitude), np.clip(SIGNIFICANT - 1 - magnitude, 0, 15), 0).astype(int)
    finite = np.isfinite(x).tolist()   # once for the column, not a numpy call per cell
    return np.array([round(v, d) if ok else v for v, d, ok in zip(x.tolist(), decimals.tolist(), finite)], dtype=float)


def figure(fig, *, height: int | None = None) -> str:
    """A Plotly figure (a ``graph_objects`` figure or its dict) as a div and the one
    ``Plotly.newPlot`` call that draws it; Plotly's JavaScript itself is in the page head, once.
    The page's look (white template, margins, height) is set on the figure's dict, not through
    ``update_layout``: plotly validates a template property by property there, which cost more
    than building the figures themselves (issue 22). The dict goes into the page as JSON with
    ``<``, ``>`` and ``&`` escaped, so a name taken from a trace cannot end the script."""
    spec = fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)
    layout = dict(spec.get("layout") or {})
    if height:
        layout["height"] = height
    layout["template"] = _white_template()
    layout["margin"] = {**(layout.get("margin") or {}), **_MARGIN}
    div_id = f"fig{next(_ids)}"
    args = ", ".join(_script_json(x) for x in (spec.get("data") or [], layout, _CONFIG))
    return (f'<div class="figure"><div id="{div_id}" class="plotly-graph-div" style="height:{layout.get("height", 450)}px; '
            f'width:100%;"></div><script type="text/javascript">Plotly.newPlot("{div_id}", {args});</script></div>')


_CONFIG = {"displaylogo": False, "responsive": True}


def _script_json(value: Any) -> str:
    """``value`` as a JavaScript literal for a <script> block: JSON (numpy arrays and scalars as
    lists and numbers; NaN stays NaN, which JavaScript reads) with the characters that could close
    the script escaped inside strings."""
    text = json.dumps(value, default=_jsonable, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):      # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


@functools.cache
def _white_template() -> dict:
    """The layout part of plotly's ``plotly_white`` template as plain JSON, made once per process.
    Its per-trace-type defaults (every trace type Plotly has) are left out: they were most of
    each figure's bytes, and the figures here set what they show themselves. Read from the JSON
    file plotly ships (``plotly.io.templates`` would import ``plotly.graph_objs`` for it)."""
    from importlib import resources

    try:
        text = (resources.files("plotly") / "package_data" / "templates" / "plotly_white.json").read_text("utf-8")
        return {"layout": json.loads(text)["layout"]}
    except (OSError, KeyError, ValueError):   # another plotly layout: ask plotly itself
        import plotly.io as pio

        return {"layout": pio.templates["plotly_white"].to_plotly_json()["layout"]}


def prepare() -> None:
    """Imports the page's libraries and reads the sources it inlines, ahead of ``render_page``: for
    a caller with idle time before it renders (import-trace, while its first file decodes)."""
    import itables  # noqa: F401
    import jinja2  # noqa: F401

    _libraries()
    _white_template()


@functools.cache
def _libraries() -> tuple[str, str]:
    """Plotly and DataTables sources for the head of the page, inlined (no network); read once
    per process."""
    from itables import options as itables_options
    from itables.javascript import generate_init_offline_itables_html
    from plotly.offline import get_plotlyjs

    plotly = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    datatables = generate_init_offline_itables_html(itables_options.dt_bundle)
    return plotly, datatables


def render_page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page: head with the libraries, a table of contents, then each section."""
    import jinja2

    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    plotly, datatables = _libraries()
    import plotly as plotly_pkg
    import itables

    made = (f"Made by nscharacterize on {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; "
            f"figures by Plotly {plotly_pkg.__version__}, tables by itables {itables.__version__} (DataTables). "
            "Everything is inside this file: it opens offline.")
    return template.render(title=esc(title), subtitle=esc(subtitle), sections=sections, plotly=plotly,
                           datatables=datatables, made=esc(made))


def write_page(path: str | Path, page: str) -> Path:
    """Writes a page atomically (a reader never sees half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, page)


def sweep_page(title: str, tables: Mapping[str, pd.DataFrame], *, subtitle: str = "",
               facts_: Mapping[str, Any] | None = None, figures: Iterable[Any] = (),
               notes: Iterable[str] = ()) -> str:
    """A page for a sweep (or any set of tables): optional facts, optional Plotly figures, then
    each table, sortable and filterable, under its name. Knows nothing of the tables' columns, so
    a new table or column appears without a change here."""
    sections = []
    if facts_ or notes:
        sec = Section("facts", "Facts", "What was run, and how.")
        sec.add(*(paragraph(n) for n in notes))
        if facts_:
            sec.add(facts(facts_))
        sections.append(sec)
    figs = [figure(f) for f in figures]
    if figs:
        sections.append(Section("figures", "Figures", "Hover for exact values.", figs))
    for name, frame in tables.items():
        sections.append(Section(slug(name), name, "", [table(frame, name)]))
    return render_page(title, subtitle, sections)


def slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in str(text).lower()).strip("-")
    return out or f"s{next(_ids)}"
