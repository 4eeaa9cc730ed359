"""The two pages, rendered on the server; their JavaScript talks only to the JSON API."""

from __future__ import annotations

import os
from html import escape

_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem; color: #222; }
nav a { margin-right: 1rem; } h1 { font-size: 1.4rem; }
#drop { border: 2px dashed #889; border-radius: 8px; padding: 1.5rem; text-align: center; background: #f7f7fb; }
#drop.over { background: #e6ecff; } .error { color: #b00020; } .muted { color: #667; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .25rem .5rem; border-bottom: 1px solid #ddd;
 text-align: left; } .bar { background: #4a6cf7; height: .7rem; display: inline-block; }
canvas { width: 100%; border: 1px solid #ccc; image-rendering: pixelated; } audio { width: 100%; margin: .5rem 0; }
input[type=text] { padding: .3rem; width: 18rem; } button { padding: .3rem .7rem; }
"""

_COMMON_JS = """
const token = new URLSearchParams(location.search).get('token') || '';
const withToken = (url) => token ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : url;
async function api(url, options) {
  const response = await fetch(withToken(url), options || {});
  const body = await response.json().catch(() => ({detail: response.statusText}));
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
  "'": '&#39;'}[c]));
const bars = (tags) => tags.map((t) => `<span title="${esc(t.tag)}">${esc(t.tag)} ${t.score.toFixed(2)}</span>`)
  .join(', ');
"""


def _shown(model: str) -> str:
    """A model's name as a person reads it: a pretrained name, or a model folder's own name."""
    return os.path.basename(os.path.normpath(model))


def _page(title: str, body: str, script: str, *, has_library: bool) -> str:
    nav = '<nav><a href="/" id="nav-tag">Tag a file</a>'
    nav += '<a href="/library" id="nav-library">Library</a>' if has_library else ""
    nav += '<a href="/docs">API</a></nav>'
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)} · musictag</title>"
        f"<meta name=viewport content='width=device-width'><style>{_STYLE}</style></head><body>{nav}"
        f"{body}<script>{_COMMON_JS}{script}</script></body></html>"
    )


def tag_page(*, model: str, has_library: bool) -> str:
    """The page that tags a dropped file and shows its taggram and explanation."""
    body = f"""
<h1>Tag a file <span class=muted>with {escape(_shown(model))}</span></h1>
<div id=drop><p>Drop an audio file here, or</p><input type=file id=file accept="audio/*,video/*"></div>
<p id=status class=muted></p>
<div id=result hidden>
  <audio id=player controls></audio>
  <canvas id=taggram height=260></canvas>
  <p><button id=explain>Explain the top tag</button> <button id=hear hidden>Hear the most relevant segments</button>
  <span id=explained class=muted></span></p>
  <canvas id=relevance height=70 hidden></canvas>
  <p class=muted>The taggram: the top tags (rows) over time (columns), darker is more (from the lowest
  to the highest score shown); the red line follows the player.</p>
  <table id=tags><thead><tr><th>tag</th><th>score</th><th></th></tr></thead><tbody></tbody></table>
</div>"""
    script = """
const drop = document.getElementById('drop'), input = document.getElementById('file');
const statusLine = document.getElementById('status'), player = document.getElementById('player');
let current = null;
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over');
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]); });
input.addEventListener('change', () => { if (input.files.length) upload(input.files[0]); });

async function upload(file) {
  uploaded = file; explanation = null;
  document.getElementById('relevance').hidden = true; document.getElementById('hear').hidden = true;
  statusLine.className = 'muted'; statusLine.textContent = `Tagging ${file.name} ...`;
  const form = new FormData(); form.append('file', file);
  try {
    current = await api('/api/tag?top_k=10&describe=key,bpm', {method: 'POST', body: form});
  } catch (error) {
    statusLine.className = 'error'; statusLine.textContent = error.message; return;
  }
  const described = ['key', 'bpm'].map((name) => current[name] && current[name].value !== null
    ? `${name} ${current[name].value} (confidence ${current[name].confidence.toFixed(2)})` : `${name} unknown`);
  statusLine.textContent =
    `${file.name}: ${current.duration.toFixed(1)} s, ${current.taggram.length} patches; ${described.join(', ')}`;
  player.src = URL.createObjectURL(file);
  document.getElementById('result').hidden = false;
  document.querySelector('#tags tbody').innerHTML = current.tags.map((t) =>
    `<tr><td>${esc(t.tag)}</td><td>${t.score.toFixed(3)}</td>` +
    `<td><span class=bar style="width:${Math.round(t.score * 300)}px"></span></td></tr>`).join('');
  draw();
  document.body.dataset.tagged = 'yes';
}

function draw() {
  const canvas = document.getElementById('taggram'), ctx = canvas.getContext('2d');
  canvas.width = canvas.clientWidth;
  const rows = current.tags.map((t) => current.labels.indexOf(t.tag));
  const left = 110, width = canvas.width - left, height = canvas.height / rows.length;
  const patches = current.taggram.length, cell = width / patches;
  const shown = rows.flatMap((label) => current.taggram.map((scores) => scores[label]));
  const lo = Math.min(...shown), range = Math.max(1e-6, Math.max(...shown) - lo);  // colours span what is shown
  ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.font = '12px system-ui'; ctx.textBaseline = 'middle';
  rows.forEach((label, r) => {
    ctx.fillStyle = '#222'; ctx.fillText(current.labels[label], 4, (r + 0.5) * height);
    current.taggram.forEach((scores, p) => {
      const v = (scores[label] - lo) / range;
      ctx.fillStyle = `rgb(${255 - 200 * v}, ${255 - 170 * v}, ${255 - 30 * v})`;
      ctx.fillRect(left + p * cell, r * height, Math.ceil(cell), height - 1);
    });
  });
  const span = current.patch_starts.length ? current.patch_starts[patches - 1] + current.patch_seconds : 1;
  const x = left + Math.min(1, player.currentTime / span) * width;
  ctx.strokeStyle = '#d00'; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, canvas.height);
  ctx.stroke();
  canvas.dataset.drawn = String(patches);
}
player.addEventListener('timeupdate', () => { if (current) draw(); if (explanation) drawRelevance(); });

let explanation = null, uploaded = null;
document.getElementById('explain').onclick = async () => {
  const note = document.getElementById('explained');
  note.className = 'muted'; note.textContent = 'Explaining ...';
  const form = new FormData(); form.append('file', uploaded);
  try {
    explanation = await api('/api/explain?top_k=3&target=' + encodeURIComponent(current.tags[0].tag),
                            {method: 'POST', body: form});
  } catch (error) { note.className = 'error'; note.textContent = error.message; return; }
  note.textContent = `${explanation.target} (${explanation.method}; explaining ${explanation.explains}): ` +
    'most relevant at ' + explanation.top_segments.map((s) => `${s.start.toFixed(1)}-${s.end.toFixed(1)} s`).join(', ');
  document.getElementById('relevance').hidden = false; document.getElementById('hear').hidden = false;
  drawRelevance();
  document.body.dataset.explained = 'yes';
};
function drawRelevance() {
  const canvas = document.getElementById('relevance'), ctx = canvas.getContext('2d');
  canvas.width = canvas.clientWidth;
  const left = 110, width = canvas.width - left, mid = canvas.height / 2;
  const values = explanation.segments.map((s) => s.relevance), peak = Math.max(1e-9, ...values.map(Math.abs));
  const span = explanation.segments[explanation.segments.length - 1].end, scale = width / span;
  ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.fillStyle = '#222'; ctx.font = '12px system-ui';
  ctx.textBaseline = 'middle'; ctx.fillText('relevance', 4, mid);
  explanation.segments.forEach((s) => {
    ctx.fillStyle = s.relevance >= 0 ? '#d33' : '#36c';
    const h = (s.relevance / peak) * (mid - 2);
    ctx.fillRect(left + s.start * scale, mid - Math.max(h, 0), Math.max(1, (s.end - s.start) * scale - 1), Math.abs(h));
  });
  const x = left + Math.min(1, player.currentTime / span) * width;
  ctx.strokeStyle = '#d00'; ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, canvas.height); ctx.stroke();
}
document.getElementById('hear').onclick = async () => {  // each top segment in turn, in time order
  const spans = [...explanation.top_segments].sort((a, b) => a.start - b.start);
  for (const s of spans) {
    player.currentTime = s.start; await player.play();
    await new Promise((done) => setTimeout(done, (s.end - s.start) * 1000));
    player.pause();
  }
};
window.addEventListener('resize', () => current && draw());
"""
    return _page("Tag a file", body, script, has_library=has_library)


def library_page(*, model: str) -> str:
    """The page that browses the library: a filter, a search, similar tracks and a player."""
    body = f"""
<h1>Library <span class=muted>({escape(_shown(model))} tags uploads)</span></h1>
<p><input type=text id=query placeholder="guitar > 0.4 and vocal < 0.2">
<input type=text id=search placeholder="search in paths"> <button id=apply>Filter</button>
<span id=count class=muted></span></p>
<p id=status class=error></p>
<audio id=player controls></audio>
<table id=tracks><thead><tr><th>track</th><th>top tags</th><th></th></tr></thead><tbody></tbody></table>
<p><button id=prev>previous</button> <button id=next>next</button></p>
<div id=similar hidden><h2>Similar to <span id=similar-to></span></h2><table><tbody></tbody></table></div>"""
    script = """
const page = {offset: 0, limit: 25, total: 0};
const statusLine = document.getElementById('status'), player = document.getElementById('player');
const row = (t, extra) => `<tr data-id="${t.id}"><td title="${esc(t.path)}">${esc(t.name)}</td>` +
  `<td>${bars(t.tags)}</td><td>${extra || ''}<button class=play data-id="${t.id}">play</button> ` +
  `<button class=similar data-id="${t.id}" data-name="${esc(t.name)}">similar</button></td></tr>`;

async function load() {
  const query = encodeURIComponent(document.getElementById('query').value);
  const search = encodeURIComponent(document.getElementById('search').value);
  try {
    const data = await api(`/api/tracks?query=${query}&search=${search}&offset=${page.offset}&limit=${page.limit}`);
    statusLine.textContent = '';
    page.total = data.total;
    document.querySelector('#tracks tbody').innerHTML = data.tracks.map((t) => row(t)).join('');
    const last = Math.min(page.offset + page.limit, data.total);
    document.getElementById('count').textContent = `${data.total} tracks` +
      (data.total ? `, showing ${page.offset + 1}-${last}` : '');
    document.body.dataset.loaded = String(data.total);
  } catch (error) { statusLine.textContent = error.message; }
}

document.addEventListener('click', async (e) => {
  const id = e.target.dataset.id;
  if (e.target.classList.contains('play')) { player.src = withToken(`/api/tracks/${id}/audio`); player.play(); }
  if (e.target.classList.contains('similar')) {
    try {
      const data = await api(`/api/tracks/${id}/similar?n=5`);
      document.getElementById('similar-to').textContent = e.target.dataset.name;
      document.querySelector('#similar tbody').innerHTML =
        data.similar.map((t) => row(t, `${t.similarity.toFixed(3)} `)).join('');
      document.getElementById('similar').hidden = false;
      document.body.dataset.similar = String(data.similar.length);
    } catch (error) { statusLine.textContent = error.message; }
  }
});
document.getElementById('apply').onclick = () => { page.offset = 0; load(); };
document.getElementById('query').addEventListener('keydown', (e) => { if (e.key === 'Enter') { page.offset = 0;
  load(); } });
document.getElementById('prev').onclick = () => { page.offset = Math.max(0, page.offset - page.limit); load(); };
document.getElementById('next').onclick = () => {
  if (page.offset + page.limit < page.total) { page.offset += page.limit; load(); } };
load();
"""
    return _page("Library", body, script, has_library=True)


def api_page(schema: dict, *, has_library: bool) -> str:
    """The API's endpoints as a page rendered here from the OpenAPI schema: nothing loaded from elsewhere,
    so it reads offline and behind the token."""
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            params = [p["name"] for p in operation.get("parameters", [])]
            if "requestBody" in operation:
                params.insert(0, "file (upload)")
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(operation.get('summary', ''))}</td><td>{escape(', '.join(params))}</td></tr>"
            )
    body = (
        '<h1>API</h1><p class=muted>Every answer is JSON; an error is <code>{"detail": "one line"}</code>. '
        "With a token, send <code>Authorization: Bearer TOKEN</code>. The full schema: "
        '<a href="/openapi.json">openapi.json</a>.</p><table><tr><th>method</th><th>path</th><th>what</th>'
        f"<th>parameters</th></tr>{''.join(rows)}</table>"
    )
    return _page("API", body, "", has_library=has_library)
