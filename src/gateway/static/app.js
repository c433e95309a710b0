// driftwatch dashboard: plain ES module, no dependencies. Reads the public REST API and the
// /v1/live WebSocket feed only. Charts are hand-written SVG.
const TOKEN_KEY = 'driftwatch.token';
const OPERATOR_KEY = 'driftwatch.operator';
const SILENCE_FOR = '1h';
const HISTORY_POINTS = 300;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const VERSIONS_POLL_MS = 5000;
const COLORS = ['#2563eb', '#d97706', '#c62828', '#059669', '#7c3aed'];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  window: null,
  windows: [],
  operator: localStorage.getItem(OPERATOR_KEY) ?? '',
  models: new Map(), // model -> { summary, metrics, history: [] }
  alerts: new Map(), // id -> AlertEvent
  active: new Map(), // episode (model, rule, scope, startsAt) -> ActiveAlert (GET /v1/alerts `active`)
  selected: null,
  selectedFeature: null,
  baselines: [],
  ws: null,
  // the largest alert seq seen: a reconnect asks for the alerts missed since (exactly once)
  lastAlertSeq: undefined,
  backoffMs: BACKOFF_MIN_MS,
  reconnectTimer: null,
  versionsTimer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const fmt = {
  pct: (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`),
  num: (v, d = 3) => (v === null || v === undefined ? '–' : Number(v).toPrecision(d)),
  int: (v) => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en')),
  time: (ms) => new Date(ms).toLocaleTimeString('en-GB'),
};

// ---- REST ------------------------------------------------------------------------------------

class AuthError extends Error {}

async function api(path, method = 'GET', body = undefined) {
  const headers = state.token ? { authorization: `Bearer ${state.token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) throw new AuthError((await res.json().catch(() => ({}))).message ?? 'unauthorized');
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${(await res.json().catch(() => ({}))).message ?? ''}`);
  return res.json();
}

function showAuthError(message) {
  const banner = $('auth-error');
  banner.hidden = message === null;
  banner.textContent = message === null ? '' : `401 Unauthorized: ${message}. Enter the API token above.`;
}

// ---- live feed -------------------------------------------------------------------------------

function setConnection(kind, text) {
  const node = $('connection');
  node.className = `conn conn-${kind}`;
  node.dataset.state = kind;
  node.textContent = text;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = state.token ? `?token=${encodeURIComponent(state.token)}` : '';
  const ws = new WebSocket(`${proto}//${location.host}/v1/live${query}`);
  state.ws = ws;
  setConnection('connecting', 'connecting…');
  ws.onopen = () => subscribe(ws);
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    // having answered one JSON ping, the page must answer them all (a frozen page is closed)
    if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    else onFrame(frame);
  };
  ws.onclose = (event) => {
    if (state.ws !== ws) return;
    const delay = Math.round(state.backoffMs * (0.8 + Math.random() * 0.4));
    state.backoffMs = Math.min(state.backoffMs * 2, BACKOFF_MAX_MS);
    setConnection('lost', `feed lost${event.reason ? ` (${event.reason})` : ''}, reconnecting in ${(delay / 1000).toFixed(1)} s`);
    state.reconnectTimer = setTimeout(reconnect, delay);
  };
}

function subscribe(ws) {
  const frame = { type: 'subscribe', models: ['*'], topics: ['metrics', 'drift', 'alerts'] };
  if (state.window) frame.window = state.window;
  if (state.lastAlertSeq !== undefined) frame.lastSeq = state.lastAlertSeq;
  ws.send(JSON.stringify(frame));
}

async function reconnect() {
  // A refused upgrade gives the browser no status: ask the API whether the token is the problem.
  try {
    await refreshModels();
    showAuthError(null);
  } catch (err) {
    if (err instanceof AuthError) {
      showAuthError(err.message);
      setConnection('lost', 'feed lost: unauthorized');
      return;
    }
  }
  connect();
}

function onFrame(frame) {
  switch (frame.type) {
    case 'subscribed':
      if (frame.lastSeq !== undefined && state.lastAlertSeq === undefined) state.lastAlertSeq = frame.lastSeq;
      state.backoffMs = BACKOFF_MIN_MS;
      state.window = frame.window;
      $('window-select').value = frame.window;
      $('window-label').textContent = '';
      setConnection('live', 'live');
      break;
    case 'snapshot':
      // metrics of another window than the one selected (a re-subscribe in flight) are not mixed in
      if (frame.metrics && frame.window === state.window) recordMetrics(frame.model, frame.metrics);
      for (const a of frame.alerts) state.alerts.set(a.id, a);
      renderAll();
      break;
    case 'metrics':
      if (frame.metrics.window !== state.window) break;
      // metrics frames carry no drift: it comes in drift frames, only when it changed
      recordMetrics(frame.model, { ...frame.metrics, drift: modelEntry(frame.model).metrics?.drift ?? { reference: null, output: null, features: {} } });
      renderOverview();
      if (frame.model === state.selected) renderDetail();
      break;
    case 'drift': {
      if (frame.window !== state.window) break;
      const entry = modelEntry(frame.model);
      if (entry.metrics) entry.metrics = { ...entry.metrics, drift: frame.drift };
      renderOverview();
      if (frame.model === state.selected) renderDetail();
      break;
    }
    case 'alert':
      if (typeof frame.seq === 'number') state.lastAlertSeq = Math.max(state.lastAlertSeq ?? 0, frame.seq);
      state.alerts.set(frame.alert.id, frame.alert);
      renderOverview();
      renderAlerts();
      refreshAlerts().catch(() => undefined);
      break;
    case 'error':
      console.warn('live feed error:', frame.message);
      break;
    default:
      break;
  }
}

function modelEntry(model) {
  let entry = state.models.get(model);
  if (!entry) {
    entry = { summary: { model, versions: [] }, metrics: null, history: [] };
    state.models.set(model, entry);
  }
  return entry;
}

function recordMetrics(model, m) {
  const entry = modelEntry(model);
  entry.metrics = m;
  entry.history.push({
    t: Date.now(),
    count: m.count,
    errorRate: m.errorRate,
    p50: m.latency.p50,
    p95: m.latency.p95,
    p99: m.latency.p99,
    accuracy: m.accuracy,
    estimatedAccuracy: m.estimatedAccuracy,
    labelCoverage: m.labelCoverage,
  });
  if (entry.history.length > HISTORY_POINTS) entry.history.shift();
}

// ---- derived views ---------------------------------------------------------------------------

/** Latest transition per (model, rule, scope): firing ones are what is firing now. */
function currentAlerts() {
  const latest = new Map();
  for (const a of state.alerts.values()) {
    const key = `${a.model}\u0000${a.rule}\u0000${a.scope}`;
    const prev = latest.get(key);
    if (!prev || a.at > prev.at || (a.at === prev.at && a.state === 'resolved')) latest.set(key, a);
  }
  return [...latest.values()].filter((a) => a.state === 'firing');
}

/**
 * How far a test is past its threshold, comparable across tests (1 = at the threshold): an effect
 * size against its threshold, or for a p-value test log(p) against log(alpha).
 */
function driftScore(t) {
  if (!t) return 0;
  if (t.pValue !== undefined) return t.threshold > 0 && t.threshold < 1 ? Math.log(Math.max(t.pValue, 1e-300)) / Math.log(t.threshold) : 0;
  return t.threshold > 0 ? t.statistic / t.threshold : 0;
}

/** Features ordered most drifted first: primary statistic relative to its threshold. */
function rankedFeatures(m) {
  return Object.entries(m?.drift?.features ?? {})
    .map(([name, entry]) => {
      const t = entry.tests[entry.primary] ?? entry.tests.psi;
      return { name, entry, test: t, ratio: driftScore(t) };
    })
    .sort((a, b) => Number(b.entry.drift) - Number(a.entry.drift) || b.ratio - a.ratio);
}

// ---- charts ----------------------------------------------------------------------------------

/** A line chart in SVG: series = [{ name, values: [[t, v|null]] }]. */
function lineChart(container, series, { format = (v) => fmt.num(v), min = null, max = null } = {}) {
  const W = 400, H = 160, L = 44, R = 8, T = 8, B = 20;
  const all = series.flatMap((s) => s.values.filter((p) => p[1] !== null && p[1] !== undefined && Number.isFinite(p[1])));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  if (all.length === 0) {
    add('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'waiting for data');
  } else {
    const ts = all.map((p) => p[0]), vs = all.map((p) => p[1]);
    const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1);
    let v0 = min ?? Math.min(...vs), v1 = max ?? Math.max(...vs);
    if (v1 - v0 < 1e-9) { v1 = v0 + (Math.abs(v0) || 1) * 0.1; v0 -= (Math.abs(v0) || 1) * 0.1; }
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
    for (const v of [v0, (v0 + v1) / 2, v1]) {
      add('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e5e7eb' });
      add('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, format(v));
    }
    add('text', { x: L, y: H - 4 }, fmt.time(t0));
    add('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, fmt.time(t1));
    series.forEach((s, i) => {
      const pts = s.values.filter((p) => p[1] !== null && p[1] !== undefined && Number.isFinite(p[1]));
      if (pts.length === 0) return;
      const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
      add('path', { d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.5, class: 'series', 'data-series': s.name, 'data-points': pts.length, 'vector-effect': 'non-scaling-stroke' });
    });
  }
  const legend = el('div', { class: 'legend' }, ...series.map((s, i) => el('span', {}, el('i', { style: `background:${COLORS[i % COLORS.length]}` }), s.name)));
  container.replaceChildren(svg, legend);
}

/** Horizontal bars of each test's statistic with its threshold marked. */
function testBars(container, entry) {
  const tests = Object.values(entry.tests);
  const W = 400, rowH = 22, H = Math.max(1, tests.length) * rowH + 8, L = 120, R = 60;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.style.height = `${H}px`;
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
  };
  tests.forEach((t, i) => {
    // p-value tests decide on pValue < threshold; show statistics on a scale of 2x the threshold
    const scale = Math.max(t.statistic, t.threshold * 2, 1e-12);
    const y = 4 + i * rowH;
    add('text', { x: 4, y: y + 14 }, `${t.test}${t.test === entry.primary ? ' (primary)' : ''}`);
    add('rect', { x: L, y: y + 4, width: Math.max(1, ((W - L - R) * t.statistic) / scale), height: 12, fill: t.drift ? '#c62828' : '#2563eb', class: 'bar' });
    const tx = L + ((W - L - R) * Math.min(t.threshold, scale)) / scale;
    if (t.pValue === undefined) add('line', { x1: tx, x2: tx, y1: y + 1, y2: y + 19, stroke: '#111', 'stroke-dasharray': '2,2' });
    add('text', { x: W - R + 4, y: y + 14 }, t.pValue === undefined ? `${fmt.num(t.statistic)} / ${fmt.num(t.threshold)}` : `p=${fmt.num(t.pValue, 2)}`);
  });
  container.replaceChildren(svg);
}

/** Window vs reference shares per bin of the selected feature (the bins PSI compares). */
function histogram(container, bins) {
  const n = bins.reference.length;
  const W = 400, H = 180, L = 46, R = 8, T = 8, B = 34;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('data-bins', String(n));
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  const top = Math.max(0.01, ...bins.reference, ...bins.window);
  const slot = (W - L - R) / Math.max(1, n);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  for (const v of [0, top / 2, top]) {
    add('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e5e7eb' });
    add('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, fmt.pct(v));
  }
  const label = (i) => {
    if (bins.kind === 'categorical') return bins.labels[i];
    const e = bins.edges;
    if (i === 0) return `< ${fmt.num(e[0])}`;
    if (i === e.length) return `≥ ${fmt.num(e[e.length - 1])}`;
    return `${fmt.num(e[i - 1])}–${fmt.num(e[i])}`;
  };
  for (let i = 0; i < n; i++) {
    const x = L + i * slot;
    const w = Math.max(1, slot / 2 - 2);
    add('rect', { x: x + 1, y: y(bins.reference[i]), width: w, height: H - B - y(bins.reference[i]), fill: '#9ca3af', class: 'bar-reference' }).append(
      Object.assign(document.createElementNS(ns, 'title'), { textContent: `${label(i)}: reference ${fmt.pct(bins.reference[i])}` }));
    add('rect', { x: x + 1 + w, y: y(bins.window[i]), width: w, height: H - B - y(bins.window[i]), fill: '#2563eb', class: 'bar-window' }).append(
      Object.assign(document.createElementNS(ns, 'title'), { textContent: `${label(i)}: window ${fmt.pct(bins.window[i])}` }));
    if (bins.kind === 'categorical' && n <= 12) add('text', { x: x + slot / 2, y: H - B + 12, 'text-anchor': 'middle' }, String(label(i)).slice(0, 10));
  }
  // numeric bins: the reference's edges under the boundaries (every other one when crowded)
  if (bins.kind === 'numeric') {
    const step = bins.edges.length > 6 ? 2 : 1;
    bins.edges.forEach((edge, i) => {
      if (i % step === 0) add('text', { x: L + (i + 1) * slot, y: H - B + 12, 'text-anchor': 'middle' }, fmt.num(edge, 2));
    });
  }
  const legend = el('div', { class: 'legend' }, el('span', {}, el('i', { style: 'background:#9ca3af' }), 'reference'), el('span', {}, el('i', { style: 'background:#2563eb' }), 'window'));
  container.replaceChildren(svg, legend);
}

// ---- rendering -------------------------------------------------------------------------------

function renderOverview() {
  const firing = currentAlerts();
  const shownRows = new Map([...$('models').tBodies[0].rows].map((row) => [row.dataset.model, row]));
  const rows = [...state.models.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([model, entry]) => {
    const m = entry.metrics;
    const worst = rankedFeatures(m)[0];
    const nFiring = firing.filter((a) => a.model === model).length;
    const acc = m?.accuracy ?? null;
    const accText = acc !== null ? fmt.pct(acc) : m?.estimatedAccuracy != null ? `${fmt.pct(m.estimatedAccuracy)} (est.)` : '–';
    const fresh = el('tr', { 'data-model': model, class: model === state.selected ? 'selected' : '', onclick: () => select(model) },
      el('td', {}, el('strong', {}, model)),
      el('td', {}, entry.summary.versions.join(', ') || '–'),
      el('td', {}, nFiring > 0 ? el('span', { class: 'badge sev-critical' }, nFiring) : '0'),
      el('td', {}, fmt.int(m?.count)),
      el('td', {}, fmt.pct(m?.errorRate)),
      el('td', {}, accText),
      el('td', {}, worst ? el('span', { class: worst.entry.drift ? 'drift-yes' : '' }, `${worst.name} ${worst.test?.test ?? ''} ${fmt.num(worst.test?.statistic)}${worst.entry.drift ? ' (drift)' : ''}`) : '–'));
    // a row stays the same element while its model is listed, its cells replaced only when they
    // changed: frames arrive several times a second, and a row rebuilt on each would slip out
    // from under the pointer of an operator about to click it
    const shown = shownRows.get(model);
    if (shown === undefined) return fresh;
    shown.className = fresh.className;
    if (shown.innerHTML !== fresh.innerHTML) shown.replaceChildren(...fresh.childNodes);
    return shown;
  });
  const body = $('models').tBodies[0];
  if (rows.length !== body.rows.length || rows.some((row, i) => body.rows[i] !== row)) body.replaceChildren(...rows);
  $('models-empty').hidden = rows.length > 0;
  if (state.selected === null && rows.length > 0) select(rows[0].dataset.model);
}

function renderDetail() {
  const entry = state.models.get(state.selected);
  if (!entry) return;
  $('detail').hidden = false;
  $('detail-model').textContent = state.selected;
  const h = entry.history;
  const series = (name, key) => ({ name, values: h.map((p) => [p.t, p[key]]) });
  lineChart($('chart-volume'), [series('count', 'count')], { format: fmt.int });
  lineChart($('chart-errors'), [series('error rate', 'errorRate')], { format: fmt.pct, min: 0 });
  lineChart($('chart-latency'), [series('p50', 'p50'), series('p95', 'p95'), series('p99', 'p99')], { format: (v) => fmt.num(v, 3) });
  lineChart($('chart-quality'), [series('accuracy', 'accuracy'), series('estimated accuracy', 'estimatedAccuracy'), series('label coverage', 'labelCoverage')], { format: fmt.pct, min: 0, max: 1 });
  renderDrift(entry.metrics);
}

function renderDrift(m) {
  const ranked = rankedFeatures(m);
  const refId = m?.drift?.reference;
  const profile = state.baselines.find((b) => b.id === refId);
  $('drift-reference').textContent = refId
    ? `against reference ${refId}${profile ? ` (${profile.source}, ${fmt.int(profile.count)} rows, ${new Date(profile.createdAt).toLocaleString('en-GB')})` : ''}`
    : '— no reference profile yet';
  if (state.selectedFeature === null || !ranked.some((r) => r.name === state.selectedFeature)) state.selectedFeature = ranked[0]?.name ?? null;
  $('drift-table').tBodies[0].replaceChildren(...ranked.map(({ name, entry, test }) => el('tr', { 'data-feature': name, class: name === state.selectedFeature ? 'selected' : '', onclick: () => { state.selectedFeature = name; renderDrift(m); } },
    el('td', {}, name), el('td', {}, entry.type), el('td', {}, `${entry.primary}${entry.confirmedBy ? ` + ${entry.confirmedBy}` : ''}`),
    el('td', {}, fmt.num(test?.statistic)), el('td', {}, test?.pValue === undefined ? fmt.num(test?.threshold) : `p < ${fmt.num(test.threshold, 2)}`), el('td', {}, test?.pValue === undefined ? '–' : fmt.num(test.pValue, 2)),
    el('td', { class: entry.drift ? 'drift-yes' : '' }, entry.drift ? 'DRIFT' : 'ok'), el('td', {}, fmt.int(entry.count)))));
  const chosen = ranked.find((r) => r.name === state.selectedFeature);
  $('drift-detail').querySelector('figcaption').textContent = chosen ? `Feature ${chosen.name}: window vs reference ${chosen.entry.reference}, and each test's statistic vs its threshold` : 'Selected feature';
  if (chosen) testBars($('chart-feature'), chosen.entry);
  else $('chart-feature').replaceChildren();
  if (chosen?.entry.bins) {
    histogram($('chart-histogram'), chosen.entry.bins);
    $('histogram-note').textContent = chosen.entry.bins.kind === 'numeric' ? "shares of the window and of the reference in the reference's decile (PSI) bins" : 'shares per category';
  } else {
    $('chart-histogram').replaceChildren();
    $('histogram-note').textContent = chosen ? 'no bins for this feature' : '';
  }
}

async function renderVersions() {
  const entry = state.models.get(state.selected);
  if (!entry || !state.window) return;
  const versions = entry.summary.versions;
  const model = state.selected;
  const results = await Promise.all(versions.map((v) =>
    api(`/v1/models/${encodeURIComponent(model)}/metrics?window=${encodeURIComponent(state.window)}&version=${encodeURIComponent(v)}`).catch(() => null)));
  if (model !== state.selected) return;
  // The version with the most traffic is taken as stable, the others as canaries.
  const stable = results.reduce((best, m) => (m && (!best || m.count > best.count) ? m : best), null);
  $('versions').tBodies[0].replaceChildren(...results.filter(Boolean).map((m) => el('tr', { 'data-version': m.version },
    el('td', {}, m.version), el('td', {}, m === stable ? 'stable' : 'canary'), el('td', {}, fmt.int(m.count)), el('td', {}, fmt.pct(m.errorRate)),
    el('td', {}, fmt.pct(m.accuracy)), el('td', {}, fmt.pct(m.estimatedAccuracy)), el('td', {}, fmt.num(m.latency.p99)),
    el('td', {}, Object.entries(m.drift.features).filter(([, e]) => e.drift).map(([n]) => n).join(', ') || 'none'))));
}

/** Rows shown per segment key: the worst few (the API returns them all). */
const SEGMENT_ROWS_PER_KEY = 5;

async function renderSegments() {
  const model = state.selected;
  if (!model || !state.window) return;
  const s = await api(`/v1/models/${encodeURIComponent(model)}/segments?window=${encodeURIComponent(state.window)}`).catch(() => null);
  if (model !== state.selected) return;
  const keys = s ? Object.entries(s.keys) : [];
  $('segments-note').textContent = !s ? '' : keys.length === 0 ? '— no segments in this window'
    : `against overall accuracy ${fmt.pct(s.overall.accuracy)} on ${fmt.int(s.overall.labeled)} labels; significant at ${fmt.num(s.alpha, 2)} per key (Holm)`;
  $('segments').tBodies[0].replaceChildren(...keys.flatMap(([key, ranked]) => ranked.slice(0, SEGMENT_ROWS_PER_KEY).map((r) =>
    el('tr', { 'data-key': key, 'data-segment': r.value, 'data-significant': String(r.significant) },
      el('td', {}, key), el('td', {}, r.value), el('td', {}, fmt.pct(r.accuracy)),
      el('td', { class: r.significant ? 'drift-yes' : '' }, r.drop === null ? '–' : `${(r.drop * 100).toFixed(1)} pts`),
      el('td', {}, fmt.int(r.labeled)), el('td', {}, fmt.int(r.predictions)), el('td', {}, fmt.num(r.adjustedPValue, 2)),
      el('td', { class: r.significant ? 'drift-yes' : '' }, r.significant ? 'DROP' : 'no')))));
  const worst = s?.worst;
  $('segment-features').textContent = !worst ? ''
    : worst.features.length > 0
      ? `Drift inside ${worst.key}=${worst.value} (vs the window before): ${worst.features.slice(0, 5).map((f) => `${f.feature} PSI ${fmt.num(f.psi)}${f.drift ? ' (drift)' : ''}`).join(', ')}`
      : `Drift inside ${worst.key}=${worst.value}: ${worst.featuresNote ?? 'no per-segment feature data'}`;
}

const episodeOf = (a) => `${a.model}:${a.rule}:${a.scope}:${a.startsAt}`;

/** What an operator can do on a timeline item: silence or acknowledge the alert while it fires, end its silence. */
function alertActions(a) {
  const active = a.state === 'firing' ? state.active.get(episodeOf(a)) : undefined;
  if (!active || active.state !== 'firing') return [];
  const out = [];
  if (active.silenced) {
    out.push(el('span', { class: 'badge state-silenced' }, 'silenced'));
    out.push(el('button', { class: 'unsilence', onclick: () => act(() => Promise.all(active.silencedBy.map((id) => api(`/v1/silences/${encodeURIComponent(id)}?by=${encodeURIComponent(operator())}`, 'DELETE')))) }, 'End silence'));
  } else {
    out.push(el('button', { class: 'silence', title: `silence ${a.model} · ${a.rule} · ${a.scope} for ${SILENCE_FOR}`, onclick: () => act(() => api('/v1/silences', 'POST', {
      matchers: { model: a.model, rule: a.rule, scope: a.scope }, duration: SILENCE_FOR, comment: 'silenced from the dashboard', createdBy: operator(),
    })) }, `Silence ${SILENCE_FOR}`));
  }
  if (active.acknowledged) out.push(el('span', { class: 'badge state-acked', title: active.acknowledged.comment }, `acknowledged by ${active.acknowledged.by}`));
  else out.push(el('button', { class: 'ack', onclick: () => act(() => api(`/v1/alerts/${encodeURIComponent(active.id)}/ack`, 'POST', { by: operator(), comment: 'acknowledged from the dashboard' })) }, 'Acknowledge'));
  return [el('span', { class: 'actions' }, ...out)];
}

function operator() {
  return state.operator.trim() || 'dashboard';
}

async function act(request) {
  try {
    await request();
    $('alerts-status').textContent = '';
  } catch (err) {
    $('alerts-status').textContent = err.message;
  }
  await refreshAlerts().catch(() => undefined);
}

function renderAlerts() {
  const items = [...state.alerts.values()].sort((a, b) => b.at - a.at).slice(0, 200);
  $('alert-timeline').replaceChildren(...items.map((a) => {
    const active = a.state === 'firing' ? state.active.get(episodeOf(a)) : undefined;
    const silenced = active ? active.silenced : a.silenced === true;
    return el('li', { 'data-rule': a.rule, 'data-state': a.state, 'data-model': a.model, 'data-silenced': String(silenced), 'data-acknowledged': String(Boolean(active?.acknowledged)), 'data-active': String(Boolean(active)) },
      el('time', { datetime: new Date(a.at).toISOString() }, fmt.time(a.at)),
      el('span', { class: `badge ${a.state === 'firing' ? `sev-${a.severity}` : 'state-resolved'}` }, a.state === 'firing' ? a.severity : 'resolved'),
      el('strong', {}, a.rule), el('span', {}, `${a.model} · ${a.scope}`),
      el('span', {}, `value ${fmt.num(a.value)} vs threshold ${fmt.num(a.threshold)} (${a.window})`),
      el('span', { class: 'muted' }, a.message),
      ...(active ? [] : silenced ? [el('span', { class: 'badge state-silenced' }, 'silenced')] : []),
      ...alertActions(a));
  }));
  const pending = [...state.active.values()].filter((a) => a.state === 'pending').length;
  $('alerts-empty').hidden = items.length > 0;
  $('alerts-empty').textContent = pending > 0 ? `No alerts; ${pending} pending.` : 'No alerts.';
}

/** Active alerts (with silences and acknowledgements) and the recent history, from the REST API. */
async function refreshAlerts() {
  const { active, history } = await api('/v1/alerts?limit=200');
  for (const a of history) state.alerts.set(a.id, a);
  state.active = new Map(active.map((a) => [episodeOf(a), a]));
  // an alert firing since before the history kept: shown from its active entry
  for (const a of active) {
    if (a.state === 'firing' && !state.alerts.has(a.id)) state.alerts.set(a.id, { ...a, at: a.firedAt ?? a.startsAt });
  }
  renderAlerts();
  renderOverview();
}

function renderAll() {
  renderOverview();
  renderDetail();
  renderAlerts();
}

function select(model) {
  state.selected = model;
  state.selectedFeature = null;
  renderOverview();
  renderDetail();
  renderVersions().catch(() => undefined);
  renderSegments().catch(() => undefined);
}

// ---- start -----------------------------------------------------------------------------------

async function refreshModels() {
  const { models, windows, defaultWindow } = await api('/v1/models');
  for (const summary of models) modelEntry(summary.model).summary = summary;
  if (Array.isArray(windows) && windows.join() !== state.windows.join()) {
    state.windows = windows;
    $('window-select').replaceChildren(...windows.map((w) => el('option', { value: w }, w)));
  }
  if (!state.window && defaultWindow) state.window = defaultWindow;
  $('window-select').value = state.window ?? '';
}

/** Another window: the charts start over (their points were of the old one) and the feed is re-subscribed. */
function selectWindow(window) {
  if (window === state.window) return;
  state.window = window;
  for (const entry of state.models.values()) {
    entry.history = [];
    entry.metrics = null;
  }
  if (state.ws && state.ws.readyState === WebSocket.OPEN) subscribe(state.ws);
  renderAll();
  renderVersions().catch(() => undefined);
  renderSegments().catch(() => undefined);
}

async function start() {
  try {
    await refreshModels();
    await refreshAlerts();
    state.baselines = (await api('/v1/baselines').catch(() => ({ baselines: [] }))).baselines;
    showAuthError(null);
  } catch (err) {
    if (err instanceof AuthError) {
      showAuthError(err.message);
      setConnection('lost', 'not connected: token required');
      return;
    }
    throw err;
  }
  renderAll();
  connect();
  clearInterval(state.versionsTimer);
  state.versionsTimer = setInterval(() => {
    renderVersions().catch(() => undefined);
    renderSegments().catch(() => undefined);
    refreshModels().then(renderOverview).catch(() => undefined);
    refreshAlerts().catch(() => undefined);
    api('/v1/baselines').then((b) => { state.baselines = b.baselines; }).catch(() => undefined);
  }, VERSIONS_POLL_MS);
}

$('window-select').addEventListener('change', (event) => selectWindow(event.target.value));
$('operator-input').value = state.operator;
$('operator-input').addEventListener('change', (event) => {
  state.operator = event.target.value;
  localStorage.setItem(OPERATOR_KEY, state.operator);
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token-input').value.trim();
  if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  const old = state.ws;
  state.ws = null;
  old?.close();
  start().catch((err) => console.error(err));
});

start().catch((err) => console.error(err));
