/* viz/viz.js: the VIZ page of tinygrad.h, in plain JavaScript (no library, no network).
 *
 * Data (src/viz.c writes it into the page): uops [id, op, dtype, arg, argument key, sources, shape]; rules
 * [file:line, pattern]; contexts (a schedule, or one kernel's code generation: name, device, Opts, source) each with
 * its rewrites {name, root, result, opaque, steps: [before, after, rule, pre]}; launches [device, name, start us,
 * duration us].
 *
 * The graph after step k of a rewrite is rebuilt here as src/pattern.c made it: bottom-up, each node rebuilt on its
 * rewritten sources, then replaced when the recorded steps 1..k replaced it (a pre-order step before its sources are
 * visited), the replacement rewritten in turn; nodes recorded opaque are left alone. After the last step this gives
 * the recorded result (the self-test checks every rewrite). The layout is layered: each node one row above its
 * nearest user, the rows ordered by the mean position of their neighbours, drawn in SVG. */
'use strict';

const D = JSON.parse(document.getElementById('tg-data').textContent);
const U = new Map(); // id -> node
for (const a of D.uops) U.set(a[0], { id: a[0], op: a[1], dtype: a[2], arg: a[3], key: a[4], src: a[5], shape: a[6] });
const $ = (id) => document.getElementById(id);
const SVGNS = 'http://www.w3.org/2000/svg';
const svgEl = (tag, attrs, parent) => {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
};
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

// ---------------------------------------------------------------------------------------------------------------------
// replaying a rewrite

const nodeKey = (op, dtype, argKey, src) => op + '|' + dtype + '|' + argKey + '|' + src.join(',');
let nextSynthetic = -1; // nodes the replay makes that the recording never named (a parent of some rewritten sources)

/* every node a rewrite's record names, by content: hash-consing made equal nodes one during the rewrite */
function internOf(rw) {
  if (rw.intern) return rw.intern;
  const m = new Map(), seen = new Set(), stack = [rw.root, rw.result];
  for (const s of rw.steps) stack.push(s[0], s[1]);
  while (stack.length) {
    const id = stack.pop();
    if (seen.has(id)) continue;
    seen.add(id);
    const u = U.get(id);
    if (!u) continue;
    m.set(nodeKey(u.op, u.dtype, u.key, u.src), id);
    for (const s of u.src) stack.push(s);
  }
  return (rw.intern = m);
}

/* the root of rewrite rw after its first k steps (k = 0: the graph before it) */
function replay(rw, k) {
  const intern = internOf(rw), repl = new Map(), pre = new Map(), opaque = new Set(rw.opaque), memo = new Map();
  for (let i = 0; i < k; i++) (rw.steps[i][3] ? pre : repl).set(rw.steps[i][0], rw.steps[i][1]);
  let depth = 0;
  const rebuild = (u, src) => {
    const key = nodeKey(u.op, u.dtype, u.key, src);
    let id = intern.get(key);
    if (id === undefined) {
      id = nextSynthetic--;
      U.set(id, { id, op: u.op, dtype: u.dtype, arg: u.arg, key: u.key, src, shape: u.shape });
      intern.set(key, id);
    }
    return id;
  };
  const visit = (id) => {
    if (memo.has(id)) return memo.get(id);
    if (pre.has(id)) {
      const r = visit(pre.get(id));
      memo.set(id, r);
      return r;
    }
    if (opaque.has(id)) return id;
    const u = U.get(id);
    if (!u) throw new Error('node ' + id + ' is missing from the data');
    const src = u.src.map(visit);
    const cur = src.some((s, i) => s !== u.src[i]) ? rebuild(u, src) : id;
    let r = cur;
    if (repl.has(cur)) {
      if (++depth > 100000) throw new Error('the replacements form a cycle');
      r = visit(repl.get(cur));
      depth--;
    }
    memo.set(id, r);
    if (cur !== id) memo.set(cur, r);
    return r;
  };
  return visit(rw.root);
}

// ---------------------------------------------------------------------------------------------------------------------
// layout: rows by distance from the root, ordered by barycentres

const OP_COLORS = [
  [/^(SINK|STORE|KERNEL|ASSIGN)$/, '#e8a0a0'],
  [/^(LOAD|INDEX|BUFFER|DEFINE_GLOBAL|DEFINE_LOCAL|DEFINE_REG|PARAM)$/, '#f3c98b'],
  [/^(RANGE|END|ENDRANGE|ENDIF|IF|BARRIER|SPECIAL|DEFINE_VAR|BIND)$/, '#a9c7ff'], [/^CONST$/, '#c9c9d4'],
  [/^(REDUCE|REDUCE_AXIS|WMMA|GROUP)/, '#ff9ec6'],
  [/^(RESHAPE|PERMUTE|EXPAND|PAD|SHRINK|FLIP|VIEW|CONTIGUOUS|COPY)/, '#b7e3a1'],
  [/^(CAST|BITCAST|VECTORIZE|GEP|UNROLL|CONTRACT)$/, '#d3b8ff'], [/./, '#ffe9a6'],
];
const opColor = (op) => OP_COLORS.find(([re]) => re.test(op))[1];

function labelOf(u) {
  const lines = [u.op];
  let second = u.dtype;
  if (u.arg !== '') second += ' ' + u.arg;
  lines.push(second.length > 40 ? second.slice(0, 39) + '\u2026' : second);
  if (u.shape) lines.push('(' + u.shape.join(',') + ')');
  return lines;
}

function layout(rootId) {
  const order = [], seen = new Set(), users = new Map();
  const stack = [[rootId, 0]];
  while (stack.length) { // iterative post-order: sources before users
    const top = stack[stack.length - 1], u = U.get(top[0]);
    if (top[1] === 0 && seen.has(top[0])) { stack.pop(); continue; }
    seen.add(top[0]);
    if (top[1] < u.src.length) {
      const s = u.src[top[1]++];
      if (!users.has(s)) users.set(s, []);
      users.get(s).push(u.id);
      if (!seen.has(s)) stack.push([s, 0]);
    } else {
      stack.pop();
      order.push(u.id);
    }
  }
  const depth = new Map([[rootId, 0]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i], d = depth.get(id) || 0;
    for (const s of U.get(id).src) depth.set(s, Math.max(depth.get(s) || 0, d + 1));
  }
  let maxDepth = 0;
  for (const d of depth.values()) maxDepth = Math.max(maxDepth, d);
  const rows = Array.from({ length: maxDepth + 1 }, () => []);
  for (const id of order) rows[maxDepth - depth.get(id)].push(id); // the root on the last row
  const nodes = new Map();
  for (const id of order) {
    const lab = labelOf(U.get(id));
    const w = Math.max(...lab.map((l) => l.length)) * 6.8 + 14;
    nodes.set(id, { id, label: lab, w, h: lab.length * 14 + 8, row: maxDepth - depth.get(id), x: 0, y: 0, pos: 0 });
  }
  rows.forEach((r) => r.forEach((id, i) => (nodes.get(id).pos = i)));
  const sweep = (rowIdx, neighbours) => {
    const r = rows[rowIdx];
    for (const id of r) {
      const ns = neighbours(id).filter((n) => nodes.has(n));
      nodes.get(id).bary = ns.length ? ns.reduce((a, n) => a + nodes.get(n).pos, 0) / ns.length : nodes.get(id).pos;
    }
    r.sort((a, b) => nodes.get(a).bary - nodes.get(b).bary);
    r.forEach((id, i) => (nodes.get(id).pos = i));
  };
  for (let it = 0; it < 4; it++) {
    for (let i = rows.length - 2; i >= 0; i--) sweep(i, (id) => users.get(id) || []);
    for (let i = 1; i < rows.length; i++) sweep(i, (id) => U.get(id).src);
  }
  const GAP_X = 18, GAP_Y = 46;
  let y = 0, width = 0;
  const rowW = rows.map((r) => r.reduce((a, id) => a + nodes.get(id).w + GAP_X, -GAP_X));
  for (const w of rowW) width = Math.max(width, w);
  rows.forEach((r, i) => {
    let x = (width - rowW[i]) / 2, h = 0;
    for (const id of r) {
      const n = nodes.get(id);
      n.x = x, n.y = y;
      x += n.w + GAP_X;
      h = Math.max(h, n.h);
    }
    y += h + GAP_Y;
  });
  return { nodes, width, height: y - GAP_Y };
}

// ---------------------------------------------------------------------------------------------------------------------
// drawing the graph, pan and zoom

const view = { x: 0, y: 0, k: 1, graph: null };
const viewport = $('viewport'), graphSvg = $('graph');
const applyView = () => viewport.setAttribute('transform', `translate(${view.x},${view.y}) scale(${view.k})`);

function fit() {
  if (!view.graph) return;
  const W = graphSvg.clientWidth || 800, H = graphSvg.clientHeight || 500, g = view.graph;
  view.k = Math.min(W / (g.width + 40), H / (g.height + 40), 1.5);
  view.x = (W - g.width * view.k) / 2;
  view.y = (H - g.height * view.k) / 2;
  applyView();
}

function drawGraph(rootId, changed, keepView) {
  const g = layout(rootId);
  view.graph = g;
  viewport.textContent = '';
  const edges = svgEl('g', {}, viewport), boxes = svgEl('g', {}, viewport);
  for (const n of g.nodes.values()) {
    const u = U.get(n.id);
    u.src.forEach((s, i) => {
      const m = g.nodes.get(s);
      const x1 = m.x + m.w / 2, y1 = m.y + m.h, x2 = n.x + (n.w * (i + 1)) / (u.src.length + 1), y2 = n.y;
      const dy = Math.max(20, (y2 - y1) / 2);
      svgEl('path', { class: 'edge', d: `M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}`,
                      'data-from': s, 'data-to': n.id }, edges);
    });
    const grp = svgEl('g', { class: 'node' + (changed && changed.has(n.id) ? ' changed' : ''),
                             transform: `translate(${n.x},${n.y})`, 'data-id': n.id }, boxes);
    svgEl('rect', { width: n.w, height: n.h, rx: 4, fill: opColor(u.op) }, grp);
    n.label.forEach((l, i) => {
      const t = svgEl('text', { x: 7, y: 15 + i * 14, class: i === 0 ? 'op' : '' }, grp);
      t.textContent = l;
    });
    grp.addEventListener('click', (ev) => { ev.stopPropagation(); pickNode(n.id); });
  }
  if (!keepView) fit();
  if (!keepView && changed && changed.size && view.k < 0.6) focus([...changed].map((id) => g.nodes.get(id)));
  return g;
}

/* a large graph fitted whole is too small to read: a step's view centres on the nodes it made, at a readable scale */
function focus(ns) {
  const W = graphSvg.clientWidth || 800, H = graphSvg.clientHeight || 500;
  const x0 = Math.min(...ns.map((n) => n.x)), x1 = Math.max(...ns.map((n) => n.x + n.w));
  const y0 = Math.min(...ns.map((n) => n.y)), y1 = Math.max(...ns.map((n) => n.y + n.h));
  view.k = Math.max(view.k, Math.min(1, W / (x1 - x0 + 300), H / (y1 - y0 + 300)));
  view.x = W / 2 - ((x0 + x1) / 2) * view.k;
  view.y = H / 2 - ((y0 + y1) / 2) * view.k;
  applyView();
}

function pickNode(id) {
  for (const e of viewport.querySelectorAll('.node.picked')) e.classList.remove('picked');
  for (const e of viewport.querySelectorAll('.edge.hot')) e.classList.remove('hot');
  const el = viewport.querySelector(`.node[data-id="${id}"]`);
  if (el) el.classList.add('picked');
  for (const e of viewport.querySelectorAll(`.edge[data-from="${id}"], .edge[data-to="${id}"]`)) e.classList.add('hot');
  const u = U.get(id);
  $('node-info').innerHTML = `<h3>node ${id < 0 ? '(rebuilt)' : id}</h3><pre>${esc(listing(id, 40))}</pre>`;
}

let drag = null;
graphSvg.addEventListener('mousedown', (e) => { drag = { x: e.clientX - view.x, y: e.clientY - view.y }; });
window.addEventListener('mousemove', (e) => {
  if (!drag) return;
  view.x = e.clientX - drag.x, view.y = e.clientY - drag.y;
  applyView();
});
window.addEventListener('mouseup', () => (drag = null));
graphSvg.addEventListener('wheel', (e) => {
  e.preventDefault();
  const r = graphSvg.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
  const f = Math.exp(-e.deltaY * 0.0015);
  view.x = mx - (mx - view.x) * f, view.y = my - (my - view.y) * f, view.k *= f;
  applyView();
}, { passive: false });

// ---------------------------------------------------------------------------------------------------------------------
// text: a node's graph as a listing (as tg__uop_print), numbered from its leaves

function listing(rootId, max) {
  const order = [], seen = new Set();
  const walk = (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const s of U.get(id).src) walk(s);
    order.push(id);
  };
  walk(rootId);
  const num = new Map(order.map((id, i) => [id, i]));
  const shown = order.length > max ? order.slice(order.length - max) : order;
  const lines = shown.map((id) => {
    const u = U.get(id);
    const srcs = u.src.map((s) => num.get(s)).join(',');
    return `${String(num.get(id)).padStart(4)} ${u.op.padEnd(13)} ${u.dtype.padEnd(8)} [${srcs}]` +
           (u.arg !== '' ? ' ' + u.arg : '') + (u.shape ? ` shape=(${u.shape.join(',')})` : '');
  });
  if (order.length > max) lines.unshift(`  ... ${order.length - max} nodes above`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------------
// the sidebar: contexts, their rewrites, each rewrite's steps

const state = { ctx: -1, rw: -1, step: -1 };

function stepLabel(rw, k) {
  if (k === 0) return `<span class="where">before</span> ${esc(rw.name)}: the graph it starts from`;
  const s = rw.steps[k - 1], rule = D.rules[s[2]];
  return `${k}. <span class="where">${esc(rule[0])}</span> ${esc(rule[1])}${s[3] ? ' (pre)' : ''}`;
}

function buildSidebar() {
  const root = $('contexts');
  root.textContent = '';
  if (!D.contexts.length) {
    root.innerHTML = '<div class="empty">Nothing was recorded: run with VIZ=1 (or tg_set_setting("VIZ", 1)).</div>';
  }
  D.contexts.forEach((c, ci) => {
    const div = document.createElement('div');
    div.className = 'ctx';
    div.dataset.ctx = ci;
    const steps = c.rewrites.reduce((a, r) => a + r.steps.length, 0);
    div.innerHTML = `<div class="ctx-name" title="${esc(c.name)}">` +
                    `<span class="kind">${esc(c.kind)}</span>${esc(c.name)}` +
                    ` <span class="kind">${c.rewrites.length} rewrites, ${steps} steps</span></div>`;
    div.firstChild.addEventListener('click', () => select(ci, state.ctx === ci ? -1 : 0, 0));
    root.appendChild(div);
  });
  if (D.cut) root.insertAdjacentHTML('beforeend', '<div class="empty">The recording was cut at its limit.</div>');
}

function renderSidebarOpen() {
  for (const div of document.querySelectorAll('.ctx')) {
    const ci = +div.dataset.ctx, open = ci === state.ctx;
    div.classList.toggle('open', open);
    while (div.childNodes.length > 1) div.removeChild(div.lastChild);
    if (!open) continue;
    D.contexts[ci].rewrites.forEach((rw, ri) => {
      const rdiv = document.createElement('div');
      rdiv.className = 'rw' + (ri === state.rw ? ' open' : '');
      rdiv.innerHTML = `<div class="rw-name">${esc(rw.name)} <span class="n">${rw.steps.length} steps</span></div>`;
      rdiv.firstChild.addEventListener('click', () => select(ci, ri, 0));
      if (ri === state.rw) {
        const sdiv = document.createElement('div');
        sdiv.className = 'steps';
        for (let k = 0; k <= rw.steps.length; k++) {
          const st = document.createElement('div');
          st.className = 'step' + (k === state.step ? ' selected' : '');
          st.dataset.step = k;
          st.innerHTML = stepLabel(rw, k);
          st.addEventListener('click', () => select(ci, ri, k));
          sdiv.appendChild(st);
        }
        rdiv.appendChild(sdiv);
      }
      div.appendChild(rdiv);
    });
  }
  const sel = document.querySelector('.step.selected');
  if (sel && sel.scrollIntoViewIfNeeded) sel.scrollIntoViewIfNeeded(false);
}

/* changed nodes at step k: the replacement's graph as it stands in the new root (tinygrad's changed_nodes) */
function changedAt(rw, k, root) {
  if (k === 0) return null;
  const inGraph = new Set(), ch = new Set(), stack = [root];
  while (stack.length) {
    const id = stack.pop();
    if (inGraph.has(id)) continue;
    inGraph.add(id);
    stack.push(...U.get(id).src);
  }
  const after = rw.steps[k - 1][1], st2 = [after];
  while (st2.length) {
    const id = st2.pop();
    if (ch.has(id) || !inGraph.has(id)) continue;
    ch.add(id);
    st2.push(...U.get(id).src);
  }
  return ch;
}

function select(ci, ri, k) {
  state.ctx = ci, state.rw = ri, state.step = k;
  renderSidebarOpen();
  const info = $('info');
  if (ci < 0 || ri < 0) { info.textContent = ''; return; }
  const c = D.contexts[ci], rw = c.rewrites[ri];
  let root, err = '';
  try { root = replay(rw, k); } catch (e) { root = rw.root; err = String(e.message || e); }
  drawGraph(root, changedAt(rw, k, root), false);
  let html = `<div class="info-main"><h3>${esc(c.kind)} ${esc(c.name)}${c.device ? ' on ' + esc(c.device) : ''}` +
             `${c.opts ? ' &mdash; opts [' + esc(c.opts) + ']' : ''}</h3>`;
  if (err) html += `<pre class="pattern">cannot rebuild this step: ${esc(err)}</pre>`;
  if (k > 0) {
    const s = rw.steps[k - 1], rule = D.rules[s[2]];
    html += `<div>step ${k} of ${rw.steps.length} in <b>${esc(rw.name)}</b>: ` +
            `rule <span class="where">${esc(rule[0])}</span>` +
            ` <span class="pattern">${esc(rule[1])}</span>${s[3] ? ' (before its sources)' : ''}</div>` +
            `<pre>replaced:\n${esc(listing(s[0], 12))}\nby:\n${esc(listing(s[1], 12))}</pre>`;
  } else {
    html += `<div><b>${esc(rw.name)}</b>: ${rw.steps.length} steps; the graph before the first</div>`;
  }
  html += '<div id="node-info"></div></div>';
  if (c.source) {
    /* the kernel's own lines, past the dialect's prelude: the source pane opens at the line that names it */
    const lines = c.source.split('\n');
    const at = lines.findIndex((l, i) => i > 0 && l.includes(c.name + '('));
    html += `<div class="info-src"><h3>source</h3><pre>${lines.map((l, i) =>
      i === at ? `<span id="kernel-line">${esc(l)}</span>` : esc(l)).join('\n')}</pre></div>`;
  }
  info.innerHTML = html;
  const kl = $('kernel-line');
  if (kl) kl.parentNode.parentNode.scrollTop = kl.offsetTop - 40; /* .info-src is the offset parent */
  history.replaceState(null, '', '#c=' + ci + '&r=' + ri + '&s=' + k);
}

$('filter').addEventListener('input', (e) => {
  const q = e.target.value.toLowerCase();
  for (const div of document.querySelectorAll('.ctx'))
    div.hidden = q !== '' && !D.contexts[+div.dataset.ctx].name.toLowerCase().includes(q);
});

window.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'INPUT') return;
  if (e.key === 'f') fit();
  if (e.key === 't') showTab('timeline');
  if (e.key === 'g') showTab('graph');
  if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && state.rw >= 0) {
    e.preventDefault();
    const rw = D.contexts[state.ctx].rewrites[state.rw];
    const k = Math.max(0, Math.min(rw.steps.length, state.step + (e.key === 'ArrowDown' ? 1 : -1)));
    select(state.ctx, state.rw, k);
  }
});

// ---------------------------------------------------------------------------------------------------------------------
// the timeline of launches, one lane per device, and the time per kernel

const tl = { x0: 0, scale: 1, drawn: false };

function hueOf(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360},60%,70%)`;
}

function drawTimeline() {
  const svg = $('timeline');
  svg.textContent = '';
  const L = D.launches;
  if (!L.length) {
    svgEl('text', { x: 20, y: 30, class: 'axis' }, svg).textContent =
      'No launches were recorded: VIZ=1 or PROFILE=1 records each kernel launch.';
    return 0;
  }
  const devices = [...new Set(L.map((l) => l[0]))];
  const W = svg.clientWidth || 1000, LEFT = 90, LANE = 34, TOP = 24;
  const first = Math.min(...L.map((l) => l[2])), end = Math.max(...L.map((l) => l[2] + l[3]));
  if (!tl.drawn) { /* the launches fill the width at first */
    const pad = Math.max((end - first) * 0.02, 1);
    tl.x0 = first - pad;
    tl.scale = (W - LEFT - 20) / (end - first + 2 * pad);
    tl.drawn = true;
  }
  const X = (t) => LEFT + (t - tl.x0) * tl.scale;
  let stepUs = Math.pow(10, Math.floor(Math.log10(90 / tl.scale))); /* ticks at least 90 px apart: 1, 2 or 5 x 10^k */
  for (const f of [1, 2, 5, 10]) if (f * stepUs * tl.scale >= 90) { stepUs *= f; break; }
  for (let t = Math.ceil(tl.x0 / stepUs) * stepUs; X(t) < W; t += stepUs) {
    svgEl('line', { x1: X(t), x2: X(t), y1: TOP - 6, y2: TOP + devices.length * LANE, class: 'gridline' }, svg);
    svgEl('text', { x: X(t) + 2, y: TOP - 8, class: 'axis' }, svg).textContent =
      t >= 1e6 ? (t / 1e6).toFixed(3) + ' s' : t >= 1e3 ? (t / 1e3).toFixed(3) + ' ms' : t.toFixed(1) + ' \u00b5s';
  }
  devices.forEach((d, i) => {
    svgEl('rect', { x: 0, y: TOP + i * LANE, width: W, height: LANE - 4, class: 'lane' }, svg);
    svgEl('text', { x: 8, y: TOP + i * LANE + 20, class: 'lane-label' }, svg).textContent = d;
  });
  let bars = 0;
  for (const [dev, name, ts, dur] of L) {
    const x = X(ts), w = Math.max(1, dur * tl.scale), lane = devices.indexOf(dev);
    if (x + w < LEFT || x > W) continue;
    const r = svgEl('rect', { x: Math.max(x, LEFT), y: TOP + lane * LANE + 3, width: w, height: LANE - 10,
                              fill: hueOf(name), class: 'bar' }, svg);
    svgEl('title', {}, r).textContent = `${name} on ${dev}\nstart ${ts.toFixed(1)} \u00b5s, ${dur.toFixed(1)} \u00b5s` +
      '\nclick: its rewrites';
    r.addEventListener('click', () => { /* the kernel's code generation, when it was recorded */
      const ci = D.contexts.findIndex((c) => c.kind === 'kernel' && c.name === name && c.rewrites.length);
      if (ci >= 0) { showTab('graph'); select(ci, 0, 0); }
    });
    if (w > name.length * 6.8 + 6)
      svgEl('text', { x: x + 3, y: TOP + lane * LANE + 20, class: 'bar-label' }, svg).textContent = name;
    bars++;
  }
  return bars;
}

function drawProfile() {
  const per = new Map();
  let total = 0;
  for (const [dev, name, , dur] of D.launches) {
    const k = dev + '\u0000' + name, e = per.get(k) || { dev, name, n: 0, us: 0 };
    e.n++, e.us += dur, total += dur;
    per.set(k, e);
  }
  const rows = [...per.values()].sort((a, b) => b.us - a.us).slice(0, 200);
  $('profile').innerHTML = `<h3>${D.launches.length} launches, ${(total / 1e3).toFixed(3)} ms in kernels</h3>` +
    '<table class="prof"><tr><th>kernel</th><th>device</th><th>launches</th><th>total ms</th>' +
    '<th>mean \u00b5s</th><th>%</th></tr>' +
    rows.map((e) => `<tr><td>${esc(e.name)}</td><td>${esc(e.dev)}</td><td>${e.n}</td>` +
                    `<td>${(e.us / 1e3).toFixed(3)}</td><td>${(e.us / e.n).toFixed(1)}</td>` +
                    `<td>${total ? ((100 * e.us) / total).toFixed(1) : '0.0'}</td></tr>`).join('') +
    '</table>';
}

const tlSvg = $('timeline');
let tlDrag = null;
tlSvg.addEventListener('wheel', (e) => {
  e.preventDefault();
  const mx = e.clientX - tlSvg.getBoundingClientRect().left - 90, t = tl.x0 + mx / tl.scale;
  tl.scale *= Math.exp(-e.deltaY * 0.002);
  tl.x0 = t - mx / tl.scale;
  drawTimeline();
}, { passive: false });
tlSvg.addEventListener('mousedown', (e) => { tlDrag = { x: e.clientX, x0: tl.x0 }; });
window.addEventListener('mousemove', (e) => {
  if (!tlDrag) return;
  tl.x0 = tlDrag.x0 - (e.clientX - tlDrag.x) / tl.scale;
  drawTimeline();
});
window.addEventListener('mouseup', () => (tlDrag = null));

function showTab(which) {
  $('graph-view').hidden = which !== 'graph';
  $('timeline-view').hidden = which !== 'timeline';
  $('tab-graph').classList.toggle('active', which === 'graph');
  $('tab-timeline').classList.toggle('active', which === 'timeline');
  if (which === 'timeline') { drawTimeline(); drawProfile(); }
}
$('tab-graph').addEventListener('click', () => showTab('graph'));
$('tab-timeline').addEventListener('click', () => showTab('timeline'));

// ---------------------------------------------------------------------------------------------------------------------
// start: the link's selection (#c=ctx&r=rewrite&s=step, #timeline), else the first kernel's largest rewrite

function start() {
  const nsteps = D.contexts.reduce((a, c) => a + c.rewrites.reduce((b, r) => b + r.steps.length, 0), 0);
  $('summary').textContent =
    `${D.library}: ${D.contexts.length} contexts, ${nsteps} steps, ${D.launches.length} launches`;
  buildSidebar();
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.has('timeline')) return showTab('timeline');
  const byName = (list, v) => (/^\d+$/.test(v) ? +v : list.findIndex((x) => x.name === v));
  const stepsOf = (c) => c.rewrites.reduce((a, r) => a + r.steps.length, 0);
  /* the context named (by index or name), else the reduction kernel with the most steps (a matmul's), else any */
  let ci = h.has('c') ? byName(D.contexts, h.get('c')) : -1;
  if (ci < 0) {
    const kernels = D.contexts.map((c, i) => [c, i]).filter(([c]) => c.kind === 'kernel' && c.rewrites.length);
    const reduce = kernels.filter(([c]) => c.name.startsWith('r_'));
    const pool = reduce.length ? reduce : kernels;
    if (pool.length) ci = pool.reduce((best, x) => (stepsOf(x[0]) > stepsOf(best[0]) ? x : best))[1];
  }
  if (ci >= 0 && D.contexts[ci].rewrites.length) {
    const rws = D.contexts[ci].rewrites;
    let ri = h.has('r') ? byName(rws, h.get('r')) : -1;
    if (ri < 0) ri = rws.reduce((best, r, i) => (r.steps.length > rws[best].steps.length ? i : best), 0);
    const k = Math.min(+(h.get('s') || 0), rws[ri].steps.length);
    select(ci, ri, k);
  } else if (D.launches.length) showTab('timeline');
}

/* #selftest (tools/viz_test.sh runs it in headless Chromium): every rewrite replays to its recorded result, the rule
 * list and the graph render (boxes with a size), clicking a step changes the graph, the timeline draws its bars.
 * The verdict goes into the element #selftest and the title, for --dump-dom. */
function selftest() {
  const out = [], fail = (m) => out.push('FAIL ' + m), ok = (m) => out.push('ok ' + m);
  let nrw = 0, bad = 0;
  D.contexts.forEach((c, ci) => c.rewrites.forEach((rw, ri) => {
    nrw++;
    let r;
    try { r = replay(rw, rw.steps.length); } catch (e) { r = String(e); }
    if (r !== rw.result && bad++ < 5) fail(`replay of ${c.name} rewrite ${ri} (${rw.name}): ${r} != ${rw.result}`);
  }));
  if (!nrw) fail('no rewrites recorded');
  else if (!bad) ok(`replay: ${nrw} rewrites rebuild their recorded results`);
  const ci = D.contexts.findIndex((c) => c.kind === 'kernel' && c.rewrites.some((r) => r.steps.length >= 2));
  if (ci < 0) fail('no kernel with a rewrite of two steps');
  else {
    const ri = D.contexts[ci].rewrites.findIndex((r) => r.steps.length >= 2);
    select(ci, ri, 0);
    const items = document.querySelectorAll('.step');
    const rules = [...items].filter((e) => /\.[ch]:\d+/.test(e.textContent)).length;
    if (rules >= 2) ok(`rule list: ${items.length} steps listed, ${rules} name their rule's file:line`);
    else fail(`rule list: ${items.length} items, ${rules} with a file:line`);
    const ids = () => [...viewport.querySelectorAll('.node')].map((e) => e.dataset.id).sort().join(',');
    const sized = [...viewport.querySelectorAll('.node rect')].filter((r) => r.getBBox().width > 0).length;
    const edges = viewport.querySelectorAll('.edge').length;
    if (sized > 0 && edges > 0) ok(`graph: ${sized} nodes drawn with a size, ${edges} edges`);
    else fail(`graph: ${sized} sized nodes, ${edges} edges`);
    const before = ids();
    const target = [...document.querySelectorAll('.step')].find((e) => e.dataset.step === '1');
    if (target) target.click();
    const after = ids(), selected = document.querySelector('.step.selected');
    if (after !== before && selected && selected.dataset.step === '1' && viewport.querySelector('.node.changed'))
      ok(`click: step 1 selected, the graph changed ` +
         `(${before.split(',').length} -> ${after.split(',').length} nodes), ` +
         `its new nodes highlighted`);
    else fail('click: the graph did not change after clicking step 1');
    if (!/replaced:/.test($('info').textContent)) fail('info: the step\'s replacement is not shown');
    else ok('info: the rule and its replacement are shown');
  }
  showTab('timeline');
  const bars = drawTimeline();
  if (D.launches.length && bars > 0) ok(`timeline: ${bars} launches drawn`);
  else fail(`timeline: ${bars} bars for ${D.launches.length} launches`);
  showTab('graph');
  if (ci >= 0) select(ci, D.contexts[ci].rewrites.findIndex((r) => r.steps.length >= 2), 1);
  const pass = !out.some((l) => l.startsWith('FAIL'));
  document.title = 'VIZ SELFTEST ' + (pass ? 'PASS' : 'FAIL');
  const pre = $('selftest');
  pre.textContent = out.join('\n') + '\nVIZ SELFTEST ' + (pass ? 'PASS' : 'FAIL');
}

if (location.hash === '#selftest') {
  try { start(); selftest(); } catch (e) {
    $('selftest').textContent = 'FAIL exception: ' + (e.stack || e) + '\nVIZ SELFTEST FAIL';
    document.title = 'VIZ SELFTEST FAIL';
  }
} else start();
window.addEventListener('resize', () => { if (!$('timeline-view').hidden) { tl.drawn = false; drawTimeline(); } });
