"""The ``/status`` page: server-rendered HTML, and a few lines of JavaScript that re-fetch the live part.

One renderer (this module) makes both the first page and the fragment the
script swaps in every ``refresh_s``, so the page reads the same with or without
JavaScript. Everything shown is escaped; nothing on the page changes state.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from daemon.web.progress import format_duration
from daemon.web.view import CacheView, PairRow, StatusView, WaitingRow

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2329;background:#f5f6f8}
header{background:#1f2d3d;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header .meta{opacity:.8;font-size:12px}
main{padding:12px 18px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:0 0 14px;padding:10px 12px}
h2{font-size:15px;margin:2px 0 8px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 7px;border-bottom:1px solid #eceff2;vertical-align:top}
th{font-size:12px;color:#5b6670}
.chip{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#e8ebef;margin-right:4px}
.state-running{background:#d7e9ff;color:#0b4f9c}.state-queued{background:#eee}.state-done{background:#dcf3e1;color:#17652c}
.state-failed{background:#fde0de;color:#a0221a}.verdict-trusted{background:#dcf3e1;color:#17652c}
.verdict-flagged{background:#fff0c7;color:#7a5200}.stalled{background:#fde0de;color:#a0221a}.waiting{background:#eee}
.bar{width:140px;height:8px;background:#e3e7eb;border-radius:4px;overflow:hidden;margin-top:3px}
.bar>i{display:block;height:100%;background:#2f7de1}
.path{font:12px ui-monospace,monospace;color:#5b6670;word-break:break-all}
.reasons{margin:3px 0 0 16px;padding:0;font-size:12px}.message{font-size:12px;max-width:260px}
img.thumb{height:56px;border:1px solid #ccd;border-radius:3px;background:#000}.muted{color:#8a949d}
#offline{display:none;background:#a0221a;color:#fff;padding:6px 18px}
"""

SCRIPT = """
(function(){
  var live=document.getElementById('live'), off=document.getElementById('offline');
  var every=Number(live.dataset.refreshS||5)*1000;
  function tick(){
    fetch('/status/fragment',{cache:'no-store'}).then(function(r){
      if(!r.ok) throw new Error(r.status); return r.text();
    }).then(function(html){
      live.innerHTML=html; off.style.display='none';
      live.dataset.refreshes=String(Number(live.dataset.refreshes||0)+1);
    }).catch(function(){off.style.display='block';}).finally(function(){setTimeout(tick,every);});
  }
  setTimeout(tick,every);
})();
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _ago(then: datetime, now: datetime) -> str:
    return f"{format_duration((now - then).total_seconds())} ago"


def _chip(text: str, css: str = "") -> str:
    return f'<span class="chip {css}">{_e(text)}</span>'


def _progress(row: PairRow) -> str:
    if row.state != "running":
        return _e(row.stage or "") if row.state == "failed" and row.stage else '<span class="muted">-</span>'
    label = _e(row.stage or "starting") + (
        f" <span class='muted'>({_e(row.step)})</span>" if row.step and row.step != row.stage else ""
    )
    if row.stage_elapsed_s is not None:
        label += f" <span class='muted'>&middot; {_e(format_duration(row.stage_elapsed_s))} so far</span>"
    if row.fraction is None:
        return f'<div class="stage">{label}</div>'
    percent = round(100 * row.fraction)
    return (
        f'<div class="stage">{label}</div><div class="bar" title="{percent}%"><i style="width:{percent}%"></i></div>'
        f'<div class="progress">{percent}% &middot; {_e(row.progress_text)}</div>'
    )


def _verdict(row: PairRow) -> str:
    if row.verdict is None:
        return '<span class="muted">-</span>'
    reasons = "".join(f"<li>{_e(r)}</li>" for r in row.reasons)
    return _chip(row.verdict, f"verdict-{row.verdict}") + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")


def _links(row: PairRow) -> str:
    links = [(row.report_url, "report"), (row.report_json_url, "report.json"), (row.failure_url, "FAILED.json")]
    found = [f'<a class="link" href="{_e(url)}" target="_blank">{_e(text)}</a>' for url, text in links if url]
    return " &middot; ".join(found) or '<span class="muted">-</span>'


def _number(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None else '<span class="muted">-</span>'


def pair_row_html(row: PairRow, now: datetime) -> str:
    thumb = (
        (
            f'<a href="{_e(row.thumbnail_url)}" target="_blank"><img class="thumb" alt="preview of {_e(row.name)}" '
            f'src="{_e(row.thumbnail_url)}"></a>'
        )
        if row.thumbnail_url
        else ""
    )
    note = ("previous attempt: " if row.state == "running" else "") + row.message
    message = f'<div class="message muted">{_e(note)}</div>' if row.message and row.state != "done" else ""
    recall = f"{100 * row.feature_recall:.0f} %" if row.feature_recall is not None else None
    return (
        f'<tr class="pair" data-job-id="{row.job_id}" data-state="{_e(row.state)}">'
        f"<td>{thumb}</td>"
        f'<td><div class="name">{_e(row.name)}</div>'
        f'<div class="path" title="output folder">{_e(row.out_dir)}</div></td>'
        f"<td>{_chip(row.state, 'state-' + row.state)}"
        f'<div class="muted">{_e(_ago(row.updated_utc, now))}</div>{message}</td>'
        f"<td>{_progress(row)}</td><td class='attempts'>{row.attempts}</td>"
        f"<td class='gain'>{_number(row.psnr_gain_db, '+.2f') + (' dB' if row.psnr_gain_db is not None else '')}</td>"
        f"<td class='recall'>{recall or _number(None, '')}</td>"
        f"<td class='verdict'>{_verdict(row)}</td><td>{_links(row)}</td></tr>"
    )


def _pairs(view: StatusView, now: datetime) -> str:
    if not view.jobs:
        return '<section id="pairs"><h2>Pairs</h2><p class="muted">No pair processed yet.</p></section>'
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "",
            "pair / output folder",
            "state",
            "stage / progress",
            "attempts",
            "PSNR gain",
            "feature recall",
            "trust",
            "details",
        )
    )
    rows = "".join(pair_row_html(row, now) for row in view.jobs)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<section id="pairs"><h2>Pairs</h2>{table}</section>'


def _waiting_row(row: WaitingRow, now: datetime) -> str:
    label = "stalled" if row.stalled else "waiting"
    return (
        f'<tr class="waiting-pair" data-stalled="{str(row.stalled).lower()}"><td class="path">{_e(row.pair)}</td>'
        f"<td>{_chip(label, label)}</td><td>{_e(_ago(row.since_utc, now))}</td>"
        f"<td class='why'>{_e(row.reason)}</td></tr>"
    )


def _waiting(view: StatusView, now: datetime) -> str:
    if not view.waiting:
        return '<section id="waiting"><h2>Waiting and stalled pairs</h2><p class="muted">None.</p></section>'
    rows = "".join(_waiting_row(row, now) for row in view.waiting)
    return (
        '<section id="waiting"><h2>Waiting and stalled pairs</h2><table><thead><tr><th>pair</th><th>state</th>'
        f"<th>since</th><th>why</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _cache(cache: CacheView, now: datetime) -> str:
    lookups = sum(cache.decisions.values())
    rate = f"{100 * cache.hit_rate:.0f} %" if cache.hit_rate is not None else "-"
    parts = ", ".join(f"{n} {result}" for result, n in cache.decisions.items())
    summary = (
        f'<p><b class="hit-rate">hit rate {rate}</b> <span class="muted">({lookups} look-ups since start: {_e(parts)})'
        f"</span> &middot; {len(cache.models)} model{'' if len(cache.models) == 1 else 's'}, "
        f"{cache.size_bytes / 2**20:.1f} MiB in "
        f'<span class="path">{_e(cache.directory or "no cache")}</span></p>'
    )
    rows = "".join(
        f'<tr class="model"><td class="path">{_e(m.id)}</td><td>{_e(m.sample_class or "-")}</td>'
        f"<td>{m.voxel_ratio:.2f}</td>"
        f"<td>{m.use_count}</td><td>{_e(_ago(m.last_used_utc, now)) if m.last_used_utc else '-'}</td></tr>"
        for m in cache.models[:20]
    )
    table = (
        (
            "<table><thead><tr><th>model</th><th>sample class</th><th>scout/zoom voxel</th><th>uses</th>"
            f"<th>last used</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        if rows
        else ""
    )
    bad = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in cache.unreadable.items())
    return (
        f'<section id="cache"><h2>Model cache</h2>{summary}{table}' + (f"<ul>{bad}</ul>" if bad else "") + "</section>"
    )


def fragment(view: StatusView) -> str:
    """The live part of the page (what the script swaps in)."""
    now = view.generated_utc
    counts = " ".join(_chip(f"{state} {n}", f"state-{state}") for state, n in view.counts.items())
    stamp = f'<p class="muted" id="generated">as of {_e(now.strftime("%Y-%m-%d %H:%M:%S UTC"))} &middot; {counts}</p>'
    if view.watching:
        where = "watching " + ", ".join(f'<span class="path">{_e(root)}</span>' for root in view.watching)
        where += f' &rarr; <span class="path">{_e(view.output_root or "<pair>/recovered")}</span>'
        stamp += f'<p class="muted" id="places">{where}</p>'
    return stamp + _pairs(view, now) + _waiting(view, now) + _cache(view.cache, now)


def page(view: StatusView) -> str:
    """The whole ``/status`` page."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scoutzoom status</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head><body>'
        f'<header><h1>scoutzoom</h1><span class="meta">version {_e(view.version)} &middot; read-only &middot; '
        f"refreshes every {view.refresh_s:g} s &middot; "
        '<a style="color:#cfe" href="/status.json">status.json</a> &middot; '
        '<a style="color:#cfe" href="/metrics">metrics</a></span></header>'
        '<div id="offline">The daemon does not answer; '
        f'retrying.</div><main id="live" data-refresh-s="{view.refresh_s:g}">{fragment(view)}</main>'
        f"<script>{SCRIPT}</script></body></html>"
    )
