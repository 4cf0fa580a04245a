// The dashboard's script: decodes the series it draws from data.js and draws a page of cases on canvas.
(function () {
  'use strict';
  var D = window.DASHBOARD_DATA;
  var $ = function (id) { return document.getElementById(id); };
  if (!D) {
    $('charts').innerHTML = '<p class="empty">data.js is missing beside index.html: publish the dashboard again.</p>';
    return;
  }
  var PER_PAGE = 12, MAX_BANDS = 6, DAY = 86400;
  var DASHES = { 'device': [], 'edge-idle': [6, 3], 'edge-loaded': [1.5, 2.5] };
  var VERDICT_GLYPH = ['\u25CB', '\u25B2', '\u25BC', '\u25C6'];
  var VERDICT_COLOR = ['#888', '#c62828', '#2e7d32', '#ef8f00'];

  function u16(text) {
    var bin = atob(text), n = bin.length >> 1, out = new Uint16Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    return out;
  }
  var CODES = { m: u16(D.codes.m), q1: u16(D.codes.q1), q3: u16(D.codes.q3) };
  var S = D.series, R = D.runs, nSeries = S.g.length;

  // indexes: series per case, verdicts per series, the first time each commit was measured
  var seriesOfCase = D.cases.map(function () { return []; });
  for (var s = 0; s < nSeries; s++) seriesOfCase[S.c[s]].push(s);
  var verdictsOf = {};
  for (var v = 0; v < D.verdicts.s.length; v++) (verdictsOf[D.verdicts.s[v]] = verdictsOf[D.verdicts.s[v]] || []).push(v);
  var commitT = D.commits.map(function () { return Infinity; });
  for (var r = 0; r < R.t.length; r++) commitT[R.c[r]] = Math.min(commitT[R.c[r]], R.t[r]);

  function color(m) { return 'hsl(' + ((m * 137.508) % 360).toFixed(1) + ',62%,' + (38 + (m % 3) * 8) + '%)'; }
  function value(s, a, j) {
    var code = CODES[a][S.o[s] + j];
    return code === D.missing ? NaN : Math.exp(S.lo[s] + code * S.step[s]);
  }
  function fmtTime(x) {
    if (!isFinite(x)) return '-';
    var units = [[1, 's'], [1e-3, 'ms'], [1e-6, '\u00B5s'], [1e-9, 'ns']];
    for (var i = 0; i < units.length; i++) if (x >= units[i][0] || i === units.length - 1) {
      var y = x / units[i][0];
      return (y >= 100 ? y.toFixed(0) : y >= 10 ? y.toFixed(1) : y.toFixed(2)) + ' ' + units[i][1];
    }
  }
  function fmtDate(t) { return new Date(t * 1000).toISOString().slice(0, 10); }
  function median(xs) {
    var a = xs.slice().sort(function (p, q) { return p - q; }), n = a.length;
    return n % 2 ? a[(n - 1) >> 1] : (a[n / 2 - 1] + a[n / 2]) / 2;
  }
  function esc(t) { return String(t).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }

  // one series' points: the runs of one commit (or day) pooled
  var pointCache = {};
  function points(s, mode) {
    var key = s + mode;
    if (pointCache[key]) return pointCache[key];
    var g = D.groups[S.g[s]], buckets = {}, order = [];
    for (var j = 0; j < g.n; j++) {
      var m = value(s, 'm', j);
      if (!isFinite(m)) continue;
      var run = g.start + j, x = mode === 'commit' ? R.c[run] : Math.floor(R.t[run] / DAY) * DAY;
      var b = buckets[x];
      if (!b) { b = buckets[x] = { x: x, runs: [], ms: [], q1: Infinity, q3: -Infinity }; order.push(b); }
      b.runs.push(run); b.ms.push(m);
      var q1 = value(s, 'q1', j), q3 = value(s, 'q3', j);
      if (isFinite(q1)) b.q1 = Math.min(b.q1, q1);
      if (isFinite(q3)) b.q3 = Math.max(b.q3, q3);
    }
    order.sort(function (p, q) { return p.x - q.x; });
    order.forEach(function (b) { b.m = median(b.ms); if (!isFinite(b.q1)) { b.q1 = NaN; b.q3 = NaN; } });
    return (pointCache[key] = order);
  }
  function verdictMarks(s, mode) {
    var g = D.groups[S.g[s]];
    return (verdictsOf[s] || []).map(function (v) {
      var run = D.verdicts.r[v], x, y;
      if (run >= 0) {
        x = mode === 'commit' ? R.c[run] : Math.floor(R.t[run] / DAY) * DAY;
        y = value(s, 'm', run - g.start);
      } else {  // a judged run the history does not hold: at its time, its own median
        var t = D.verdicts.t[v];
        if (mode === 'commit') { x = -0.5; for (var c = 0; c < commitT.length; c++) if (commitT[c] <= t) x = Math.max(x, c + 0.5); }
        else x = Math.floor(t / DAY) * DAY;
        y = D.verdicts.y[v];
      }
      return { x: x, y: y, code: D.verdicts.v[v], run: run, t: D.verdicts.t[v] };
    });
  }

  // ---- filters ------------------------------------------------------------------------
  var state = { op: D.operations.indexOf('inference') >= 0 ? 'inference' : D.operations[0], profile: '', machine: '', caseKey: '', x: 'commit', page: 0 };
  (function readHash() {
    location.hash.slice(1).split('&').forEach(function (kv) {
      var p = kv.split('='); if (p.length === 2 && p[0] in state) state[p[0]] = p[0] === 'page' ? +p[1] || 0 : decodeURIComponent(p[1]);
    });
  })();
  function fill(sel, options, chosen) {
    sel.innerHTML = options.map(function (o) { return '<option value="' + esc(o[0]) + '"' + (String(o[0]) === String(chosen) ? ' selected' : '') + '>' + esc(o[1]) + '</option>'; }).join('');
  }
  function groupShown(gi) {
    var g = D.groups[gi];
    return (state.profile === '' || D.profiles[g.p] === state.profile) && (state.machine === '' || D.machines[g.m].id === state.machine);
  }
  function casesShown() {
    var out = [];
    D.cases.forEach(function (c, i) {
      if (c.op !== state.op) return;
      if (state.caseKey !== '' && c.key !== state.caseKey) return;
      if (seriesOfCase[i].some(function (s) { return groupShown(S.g[s]); })) out.push(i);
    });
    return out;
  }
  function syncFilters() {
    fill($('f-op'), D.operations.map(function (o) { return [o, o]; }), state.op);
    fill($('f-profile'), [['', 'all (' + D.profiles.length + ')']].concat(D.profiles.map(function (p) { return [p, p]; })), state.profile);
    // only the machines that ran the chosen profile
    var inProfile = {};
    D.groups.forEach(function (g) { if (state.profile === '' || D.profiles[g.p] === state.profile) inProfile[g.m] = 1; });
    var offered = D.machines.filter(function (m, i) { return inProfile[i] || m.id === state.machine; });
    fill($('f-machine'), [['', 'all (' + offered.length + ')']].concat(offered.map(function (m) { return [m.id, m.label + ' [' + m.id.slice(0, 6) + ']']; })), state.machine);
    var opCases = D.cases.filter(function (c) { return c.op === state.op; });
    fill($('f-case'), [['', 'all ' + state.op + ' cases (' + opCases.length + ')']].concat(opCases.map(function (c) { return [c.key, c.name]; })), state.caseKey);
    $('f-x').value = state.x;
  }
  function setState(change) {
    for (var k in change) state[k] = change[k];
    if (!('page' in change)) state.page = 0;
    location.replace('#' + Object.keys(state).map(function (k) { return k + '=' + encodeURIComponent(state[k]); }).join('&'));
    syncFilters(); render();
  }
  $('f-op').onchange = function () { setState({ op: this.value, caseKey: '' }); };
  $('f-profile').onchange = function () { setState({ profile: this.value }); };
  $('f-machine').onchange = function () { setState({ machine: this.value }); };
  $('f-case').onchange = function () { setState({ caseKey: this.value }); };
  $('f-x').onchange = function () { setState({ x: this.value }); };
  $('prev').onclick = function () { setState({ page: Math.max(0, state.page - 1) }); };
  $('next').onclick = function () { setState({ page: state.page + 1 }); };

  // ---- drawing ------------------------------------------------------------------------
  var charts = [];
  function niceLogTicks(lo, hi) {
    var out = [], e0 = Math.floor(Math.log10(lo)), e1 = Math.ceil(Math.log10(hi));
    for (var e = e0; e <= e1; e++) [1, 2, 5].forEach(function (f) { var t = f * Math.pow(10, e); if (t >= lo && t <= hi) out.push(t); });
    if (out.length < 2) out = [lo, Math.sqrt(lo * hi), hi];
    return out;
  }
  function drawChart(box, caseIndex) {
    var canvas = box.querySelector('canvas'), dpr = window.devicePixelRatio || 1;
    var W = canvas.clientWidth || 380, H = canvas.clientHeight || 200;
    canvas.width = W * dpr; canvas.height = H * dpr;
    var ctx = canvas.getContext('2d');
    ctx.scale(dpr, dpr);
    var shown = seriesOfCase[caseIndex].filter(function (s) { return groupShown(S.g[s]); });
    var lines = shown.map(function (s) { return { s: s, pts: points(s, state.x), marks: verdictMarks(s, state.x) }; });
    var xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity, bands = lines.length <= MAX_BANDS;
    lines.forEach(function (l) {
      l.pts.forEach(function (p) {
        xmin = Math.min(xmin, p.x); xmax = Math.max(xmax, p.x);
        ymin = Math.min(ymin, bands && isFinite(p.q1) ? p.q1 : p.m); ymax = Math.max(ymax, bands && isFinite(p.q3) ? p.q3 : p.m);
      });
      l.marks.forEach(function (k) { if (isFinite(k.y)) { xmin = Math.min(xmin, k.x); xmax = Math.max(xmax, k.x); ymin = Math.min(ymin, k.y); ymax = Math.max(ymax, k.y); } });
    });
    if (!isFinite(xmin)) { ctx.fillText('no runs', 10, 20); return { lines: [], hit: [] }; }
    if (xmax === xmin) { xmax += 1; xmin -= 1; }
    ymin /= 1.05; ymax *= 1.05;
    var L = 52, T = 6, Rm = 8, B = 22, pw = W - L - Rm, ph = H - T - B;
    var lymin = Math.log(ymin), lyspan = Math.log(ymax) - lymin || 1;
    var X = function (x) { return L + (x - xmin) / (xmax - xmin) * pw; };
    var Y = function (y) { return T + ph - (Math.log(y) - lymin) / lyspan * ph; };
    ctx.font = '10px system-ui, sans-serif'; ctx.fillStyle = '#666'; ctx.strokeStyle = '#eee'; ctx.lineWidth = 1;
    niceLogTicks(ymin, ymax).forEach(function (t) {
      var y = Math.round(Y(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(L + pw, y); ctx.stroke();
      ctx.textAlign = 'right'; ctx.fillText(fmtTime(t), L - 4, y + 3);
    });
    ctx.textAlign = 'center';
    for (var i = 0; i <= 4; i++) {
      var xv = xmin + (xmax - xmin) * i / 4;
      var label = state.x === 'commit' ? (D.commits[Math.round(xv)] || '').slice(0, 7) : fmtDate(xv);
      ctx.fillText(label, Math.min(Math.max(X(xv), L + 20), L + pw - 20), H - 6);
    }
    var hit = [];
    lines.forEach(function (l) {
      var g = D.groups[S.g[l.s]], col = color(g.m);
      if (bands) {
        ctx.fillStyle = col; ctx.globalAlpha = 0.15; ctx.beginPath();
        var withBand = l.pts.filter(function (p) { return isFinite(p.q1); });
        withBand.forEach(function (p, k) { (k ? ctx.lineTo : ctx.moveTo).call(ctx, X(p.x), Y(p.q3)); });
        for (var k = withBand.length - 1; k >= 0; k--) ctx.lineTo(X(withBand[k].x), Y(withBand[k].q1));
        ctx.fill(); ctx.globalAlpha = 1;
      }
      ctx.strokeStyle = col; ctx.lineWidth = 1.3; ctx.setLineDash(DASHES[D.profiles[g.p]] || []);
      ctx.beginPath();
      l.pts.forEach(function (p, k) { var px = X(p.x), py = Y(p.m); (k ? ctx.lineTo : ctx.moveTo).call(ctx, px, py); hit.push([px, py, l.s, p]); });
      ctx.stroke(); ctx.setLineDash([]);
    });
    ctx.textAlign = 'center'; ctx.font = '11px system-ui, sans-serif';
    lines.forEach(function (l) {
      l.marks.forEach(function (k) {
        if (!isFinite(k.y)) return;
        if (k.code === 0) {  // judged, nothing seen: a small ring, and only where few lines share the chart
          if (!bands) return;
          ctx.strokeStyle = VERDICT_COLOR[0]; ctx.lineWidth = 1; ctx.beginPath();
          ctx.arc(X(k.x), Y(k.y), 2.5, 0, 2 * Math.PI); ctx.stroke(); return;
        }
        ctx.fillStyle = VERDICT_COLOR[k.code];
        ctx.fillText(VERDICT_GLYPH[k.code], X(k.x), Y(k.y) + (k.code === 1 ? -4 : k.code === 2 ? 12 : 4));
      });
    });
    return { lines: lines, hit: hit, X: X, Y: Y };
  }
  function nearest(chart, ev) {
    var rect = ev.target.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top, best = null, bd = 64;
    chart.hit.forEach(function (h) { var d = (h[0] - x) * (h[0] - x) + (h[1] - y) * (h[1] - y); if (d < bd) { bd = d; best = h; } });
    return best;
  }
  function describePoint(s, p) {
    var g = D.groups[S.g[s]], m = D.machines[g.m], runs = p.runs;
    var where = state.x === 'commit' ? 'commit ' + D.commits[p.x].slice(0, 10) : 'day ' + fmtDate(p.x);
    var hosts = {}; runs.forEach(function (r) { hosts[D.hosts[R.h[r]]] = 1; });
    return '<b>' + esc(D.cases[S.c[s]].name) + '</b><br>' + esc(m.label) + ' [' + esc(m.id) + '], ' + esc(D.profiles[g.p]) +
      '<br>hosts: ' + esc(Object.keys(hosts).join(', ')) + '<br>' + where + ': median ' + fmtTime(p.m) +
      (isFinite(p.q1) ? ' (spread ' + fmtTime(p.q1) + ' \u2013 ' + fmtTime(p.q3) + ')' : '') + ', ' + runs.length + ' run(s)';
  }
  function showDetail(s, focus) {
    var g = D.groups[S.g[s]], m = D.machines[g.m], pts = points(s, state.x), marks = verdictMarks(s, state.x);
    var byX = {}; marks.forEach(function (k) { (byX[k.x] = byX[k.x] || []).push(k); });
    var rows = pts.map(function (p) {
      var ks = byX[p.x] || [];
      return '<tr' + (p === focus ? ' style="background:#fff6cc"' : '') + '><td>' + (state.x === 'commit' ? esc(D.commits[p.x].slice(0, 10)) : fmtDate(p.x)) +
        '</td><td class="num">' + fmtTime(p.m) + '</td><td class="num">' + (isFinite(p.q1) ? fmtTime(p.q1) + ' \u2013 ' + fmtTime(p.q3) : '-') +
        '</td><td>' + ks.map(function (k) { return '<span class="v v' + k.code + '">' + VERDICT_GLYPH[k.code] + ' ' + D.verdict_names[k.code] + '</span>'; }).join(' ') +
        '</td><td>' + p.runs.map(function (r) { return '<a href="' + esc(R.path[r]) + '" title="' + esc(R.path[r]) + '">' + fmtDate(R.t[r]) + ' ' + esc(D.hosts[R.h[r]]) + '</a>'; }).join('<br>') + '</td></tr>';
    }).join('');
    var box = $('detail');
    box.hidden = false;
    box.innerHTML = '<h2>' + esc(D.cases[S.c[s]].name) + ' on ' + esc(m.label) + ' [' + esc(m.id) + '], ' + esc(D.profiles[g.p]) + '</h2>' +
      '<table><thead><tr><th>' + (state.x === 'commit' ? 'commit' : 'day') + '</th><th>median</th><th>spread</th><th>gate</th><th>runs</th></tr></thead><tbody>' + rows + '</tbody></table>';
    if (focus) box.scrollIntoView({ block: 'nearest' });
  }
  function render() {
    var list = casesShown(), pages = Math.max(1, Math.ceil(list.length / PER_PAGE));
    state.page = Math.min(state.page, pages - 1);
    var page = list.slice(state.page * PER_PAGE, (state.page + 1) * PER_PAGE);
    $('page-label').textContent = list.length ? 'cases ' + (state.page * PER_PAGE + 1) + '\u2013' + (state.page * PER_PAGE + page.length) + ' of ' + list.length : 'no case';
    $('prev').disabled = state.page === 0; $('next').disabled = state.page >= pages - 1;
    var host = $('charts');
    host.innerHTML = page.length ? page.map(function (c) { return '<div class="chart" data-case="' + esc(D.cases[c].key) + '"><h2 title="' + esc(D.cases[c].key) + '">' + esc(D.cases[c].name) + '</h2><canvas></canvas></div>'; }).join('')
      : '<p class="empty">No run matches these filters.</p>';
    charts = [];
    var machinesShown = {};
    Array.prototype.forEach.call(host.querySelectorAll('.chart'), function (box, i) {
      var chart = drawChart(box, page[i]);
      chart.lines.forEach(function (l) { machinesShown[D.groups[S.g[l.s]].m] = 1; });
      charts.push(chart);
      var canvas = box.querySelector('canvas'), tip = $('tooltip');
      canvas.onmousemove = function (ev) {
        var h = nearest(chart, ev);
        if (!h) { tip.hidden = true; return; }
        tip.innerHTML = describePoint(h[2], h[3]); tip.hidden = false;
        tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 320) + 'px'; tip.style.top = (ev.clientY + 14) + 'px';
      };
      canvas.onmouseleave = function () { tip.hidden = true; };
      canvas.onclick = function (ev) {
        var h = nearest(chart, ev);
        if (!h) return;
        if (ev.shiftKey || ev.ctrlKey || ev.metaKey) window.open(R.path[h[3].runs[0]]);
        showDetail(h[2], h[3]);
      };
    });
    $('legend').innerHTML = Object.keys(machinesShown).map(Number).sort(function (a, b) { return a - b; }).map(function (m) {
      return '<span data-machine="' + esc(D.machines[m].id) + '" title="' + esc(D.machines[m].hosts.join(', ')) + '"><i style="background:' + color(m) + '"></i>' + esc(D.machines[m].label) + '</span>';
    }).join('');
    Array.prototype.forEach.call($('legend').children, function (el) { el.onclick = function () { setState({ machine: el.getAttribute('data-machine') }); }; });
  }

  // ---- static parts -------------------------------------------------------------------
  $('summary').textContent = D.machines.length + ' machines, ' + D.profiles.length + ' profiles, ' + D.cases.length + ' cases, ' +
    R.t.length + ' runs, ' + D.commits.length + ' commits, ' + D.verdicts.s.length + ' gate verdicts; from ' + D.history + ', generated ' + D.generated;
  $('machine-table').innerHTML = '<table><thead><tr><th>fingerprint</th><th>machine</th><th>ISA</th><th>hosts</th><th>TensorFlow / LiteRT / numpy</th></tr></thead><tbody>' +
    D.machines.map(function (m) {
      var v = m.versions, ver = ['TensorFlow', 'LiteRT', 'numpy'].map(function (k) { return (v[k] || ['-']).join(', '); }).join(' / ');
      return '<tr><td><code>' + esc(m.id) + '</code></td><td>' + esc(m.label) + '</td><td>' + esc((m.fingerprint.isa || []).join(' ')) + '</td><td>' + esc(m.hosts.join(', ')) + '</td><td>' + esc(ver) + '</td></tr>';
    }).join('') + '</tbody></table>';
  $('note-list').innerHTML = D.notes.length ? D.notes.map(function (n) { return '<li>' + esc(n) + '</li>'; }).join('') : '<li>none</li>';
  syncFilters();
  render();
  document.body.setAttribute('data-first-render-ms', performance.now().toFixed(0));
  document.body.setAttribute('data-charts', String(charts.length));
  window.addEventListener('resize', function () { render(); });
})();
