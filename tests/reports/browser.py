"""Headless chromium for the page tests: measurements taken in the browser, and a screenshot.

No driver package: chromium runs once per call with ``--dump-dom``; a copy of the page
carries a script that, once the page has loaded, writes what it measured as JSON into
a ``<pre id="measured">`` element, and the test reads it back from the dumped DOM.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

#: Flags for a headless run that reaches nothing outside the page (no sandbox: CI runs as root).
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]
WIDTH, HEIGHT = 1280, 800
TIMEOUT_S = 120

#: Run after load: the first screen's answer, each table container's widths, each figure's text size.
MEASURE_SCRIPT = """
addEventListener('load', () => {
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top + scrollY, bottom: r.bottom + scrollY,
                                                                   left: r.left, right: r.right}; };
  const m = {innerWidth, innerHeight, pageHeight: document.documentElement.scrollHeight,
             pageWidth: document.documentElement.scrollWidth,
             answer: [...document.querySelectorAll('[data-answer]')].map(e => ({role: e.dataset.answer,
                      text: e.textContent.trim(), ...box(e)})),
             figures: [], containers: []};
  const measureContainers = () => [...document.querySelectorAll('.scroll')].map(e => ({
      id: (e.querySelector('table') || {}).id || '', heading: (e.closest('details') ? 'folded ' : '') +
      ((e.previousElementSibling || {}).textContent || '').slice(0, 60),
      scrollWidth: e.scrollWidth, clientWidth: e.clientWidth, right: e.getBoundingClientRect().right}));
  m.containersClosed = measureContainers();
  document.querySelectorAll('details').forEach(d => d.open = true);
  m.containers = measureContainers();
  m.tables = [...document.querySelectorAll('table')].map(t => ({id: t.id, cls: t.className,
      right: t.getBoundingClientRect().right, parentRight: t.parentElement.getBoundingClientRect().right}));
  m.sorted = [...document.querySelectorAll('table.sortable')].map(t => {
    const i = [...t.tHead.rows[0].cells].findIndex(th => !th.classList.contains('t'));
    t.tHead.rows[0].cells[i].click();
    return {id: t.id, column: t.tHead.rows[0].cells[i].textContent,
            values: [...t.tBodies[0].rows].map(r => parseFloat(r.cells[i].dataset.v))};
  });
  m.figures = [...document.querySelectorAll('figure img')].map(i => ({id: i.closest('figure').id,
      shown: i.getBoundingClientRect().width, natural: i.naturalWidth,
      minFontPx: parseFloat(i.dataset.minFontPx || 'NaN')}));
  const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(m);
  document.body.appendChild(pre);
});
"""


def chromium() -> str | None:
    """The chromium binary on PATH (Debian: chromium; Ubuntu: chromium-browser), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    browser = chromium()
    if browser is None:
        raise RuntimeError("chromium is not installed")
    cmd = [browser, *FLAGS, f"--user-data-dir={workdir / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)


def measure(page: Path, workdir: Path, width: int = WIDTH, height: int = HEIGHT) -> dict:
    """Open a copy of ``page`` (with :data:`MEASURE_SCRIPT`) at ``width`` x ``height`` and return the
    measurements: innerWidth/innerHeight, pageHeight, answer (the elements marked data-answer, their
    boxes in page coordinates), containers (each .scroll: scrollWidth, clientWidth; folded ones opened),
    tables (each table's right edge and its parent's), sorted (each sortable table's first numeric column
    after a click on its header), figures (shown and natural width, the PNG's smallest text [px])."""
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / "measure.html"
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", f"<script>{MEASURE_SCRIPT}</script></body>", 1), encoding="utf-8")
    proc = _run([f"--window-size={width},{height}", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                workdir)
    found = re.search(r'<pre id="measured">(.*?)</pre>', proc.stdout, re.S)
    if found is None:
        raise RuntimeError(f"chromium wrote no measurements (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, png: Path, workdir: Path, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """The first ``width`` x ``height`` px of ``page`` as a PNG."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = _run([f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()], workdir)
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png
