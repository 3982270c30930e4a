// hookd's delivery console: plain JavaScript, no dependencies, served by
// hookd under a Content-Security-Policy that allows only its own script.
// Every value from the API is put in the page as text (text nodes,
// textContent), never as HTML: payloads and receivers' responses are data.
'use strict';

const TOKEN_KEY = 'hookd.token';
let me = null; // GET /v1/me: org_id, user_id, scopes, admin

// el('td', {class: 'x', onclick: fn}, 'text', childNode, ...): children
// that are not nodes become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

const main = () => document.getElementById('main');
const canWrite = () => me && me.scopes.includes('webhooks:manage');

async function api(method, path, body) {
  const headers = {Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY)};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!res.ok) {
    const why = data && (data.detail || data.message || data.error) || res.status;
    throw new Error(typeof why === 'string' ? why : JSON.stringify(why));
  }
  return data;
}

function show(...nodes) {
  main().replaceChildren(...nodes);
}

function fail(err) {
  show(el('p', {class: 'error', id: 'error'}, String(err.message || err)));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

// a button that exists only for tokens that may write
function writeButton(label, onclick, id) {
  if (!canWrite()) return '';
  const attrs = {type: 'button', class: 'write', onclick};
  if (id) attrs.id = id;
  return el('button', attrs, label);
}

// a portal session limited to endpoints cannot do org-wide things (resend a time range)
const orgWide = () => !(me && me.portal && me.endpoint_ids.length);

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// An endpoint's stats (GET /v1/endpoints/{id}/stats) as two inline SVG
// charts: attempts per bucket (succeeded, failed, throttled stacked) and
// latency p50/p95. Drawn here, no library: the page loads nothing else.
function statsCharts(st) {
  const W = 720, H = 140, PAD = 34, n = st.buckets.length, bw = (W - PAD) / n;
  const most = Math.max(1, ...st.buckets.map((b) => b.completed + b.failed + b.throttled));
  const bars = svg('svg', {viewBox: `0 0 ${W} ${H + 20}`, class: 'chart', id: 'chart-attempts', role: 'img'},
    svg('title', {}, 'Attempts per ' + st.bucket_seconds + ' s: succeeded, failed, throttled'),
    svg('text', {x: 0, y: 12, class: 'axis'}, String(most)), svg('text', {x: 0, y: H, class: 'axis'}, '0'),
    svg('line', {x1: PAD, y1: H, x2: W, y2: H, class: 'axis-line'}));
  st.buckets.forEach((b, i) => {
    let y = H;
    for (const [k, cls] of [['completed', 'ok'], ['failed', 'bad'], ['throttled', 'slow']]) {
      const h = (b[k] / most) * (H - 16);
      if (!h) continue;
      y -= h;
      bars.append(svg('rect', {x: PAD + i * bw, y, width: Math.max(1, bw - 1), height: h, class: 'bar-' + cls, 'data-count': b[k]},
        svg('title', {}, new Date(b.start).toLocaleString() + ': ' + b[k] + ' ' + k)));
    }
  });
  const lat = st.buckets.filter((b) => b.p95_ms != null);
  const slowest = Math.max(1, ...lat.map((b) => b.p95_ms));
  const pts = (k) => st.buckets.map((b, i) => b[k] == null ? null : [PAD + i * bw + bw / 2, H - (b[k] / slowest) * (H - 16), b])
    .filter(Boolean);
  // a line through the buckets that had attempts, and a dot on each (one bucket alone is a dot)
  const line = (k, cls) => svg('g', {},
    svg('polyline', {class: 'line-' + cls, fill: 'none', points: pts(k).map(([x, y]) => x + ',' + y).join(' ')}),
    ...pts(k).map(([x, y, b]) => svg('circle', {cx: x, cy: y, r: 2.5, class: 'dot-' + cls},
      svg('title', {}, new Date(b.start).toLocaleString() + ': ' + k.replace('_ms', '') + ' ' + b[k] + ' ms'))));
  const latency = svg('svg', {viewBox: `0 0 ${W} ${H + 20}`, class: 'chart', id: 'chart-latency', role: 'img'},
    svg('title', {}, 'Latency p50 and p95 (ms)'),
    svg('text', {x: 0, y: 12, class: 'axis'}, slowest + ' ms'), svg('text', {x: 0, y: H, class: 'axis'}, '0'),
    svg('line', {x1: PAD, y1: H, x2: W, y2: H, class: 'axis-line'}), line('p95_ms', 'p95'), line('p50_ms', 'p50'));
  const sum = (k) => st.buckets.reduce((a, b) => a + b[k], 0);
  return el('div', {class: 'charts'},
    el('p', {id: 'stats-totals'}, `${sum('completed')} succeeded, ${sum('failed')} failed, ${sum('throttled')} throttled`),
    el('div', {class: 'legend'}, el('span', {class: 'key-ok'}, 'succeeded'), el('span', {class: 'key-bad'}, 'failed'),
      el('span', {class: 'key-slow'}, 'throttled')), bars,
    el('div', {class: 'legend'}, el('span', {class: 'key-p50'}, 'p50'), el('span', {class: 'key-p95'}, 'p95')), latency);
}

// the share of attempts that succeeded over 24 h, as a small bar
function successBar(st) {
  const ok = st.buckets.reduce((a, b) => a + b.completed, 0), all = st.buckets.reduce((a, b) => a + b.completed + b.failed, 0);
  if (!all) return el('span', {class: 'rate none'}, 'no attempts');
  const pct = Math.round((ok / all) * 100);
  return el('span', {class: 'rate', title: ok + ' of ' + all + ' attempts succeeded in 24 h'},
    svg('svg', {viewBox: '0 0 100 8', class: 'ratebar'}, svg('rect', {x: 0, y: 0, width: 100, height: 8, class: 'bar-bad'}),
      svg('rect', {x: 0, y: 0, width: pct, height: 8, class: 'bar-ok'})), ' ' + pct + '%');
}

// rate limit, throttle and circuit, as the endpoint read says them
function flowState(e) {
  const parts = [];
  if (e.circuit && e.circuit.state !== 'closed') parts.push('circuit ' + e.circuit.state.replace('_', '-') + (e.circuit.next_probe_at ? ', next probe ' + when(e.circuit.next_probe_at) : ''));
  if (e.throttle && e.throttle.paused_until) parts.push('paused by the receiver until ' + when(e.throttle.paused_until));
  if (e.throttle && e.throttle.effective_rate) parts.push('slowed to ' + e.throttle.effective_rate + '/s');
  if (e.rate_limit) parts.push('at most ' + e.rate_limit + '/s');
  return parts.join('; ') || 'normal';
}

async function endpointsPage() {
  const page = await api('GET', '/v1/endpoints?limit=200');
  const rows = page.data.map((e) => el('tr', {'data-endpoint': e.id},
    el('td', {}, el('a', {href: '#/endpoint/' + e.id}, e.url)),
    el('td', {class: 'status status-' + e.status}, e.status),
    el('td', {class: 'success', 'data-success': e.id}),
    el('td', {class: 'flow'}, flowState(e)),
    el('td', {}, e.disabled_at ? 'disabled ' + when(e.disabled_at) + (e.disabled_reason ? ' (' + e.disabled_reason + ')' : '')
      : e.failing_since ? 'failing since ' + when(e.failing_since) + ' (' + e.consecutive_failures + ' consecutive failures)' : ''),
    el('td', {}, (e.event_types.length ? e.event_types.join(', ') : 'every type') + (e.ordering === 'fifo' ? ' (in order per key)' : '')),
    el('td', {}, el('a', {href: '#/filter/' + e.id, class: 'filter'}, e.filter ? JSON.stringify(e.filter) : 'none')),
    el('td', {},
      writeButton(e.status === 'ACTIVE' ? 'Disable' : 'Enable', () =>
        api('POST', '/v1/endpoints/' + e.id + (e.status === 'ACTIVE' ? '/disable' : '/enable')).then(route, fail)),
      writeButton('Rotate secret', () => api('POST', '/v1/endpoints/' + e.id + '/rotate-secret', {}).then((r) => {
        show(el('p', {class: 'notice'}, 'New secret, shown once: ', el('code', {class: 'secret', id: 'secret'}, r.secret)),
          el('p', {}, el('a', {href: '#/endpoints'}, 'Back to endpoints')));
      }, fail)),
      writeButton('Edit event types', () => {
        const v = window.prompt('Event types, comma-separated (empty: every type)', e.event_types.join(','));
        if (v === null) return;
        const types = v.split(',').map((s) => s.trim()).filter(Boolean);
        api('PATCH', '/v1/endpoints/' + e.id, {event_types: types}).then(route, fail);
      }),
      writeButton('Requeue failures', () => api('POST', '/api/partner/v1/webhook-endpoints/' + e.id + '/redeliver', {})
        .then((r) => show(el('p', {class: 'notice', id: 'requeued'}, r.requeued + ' failed deliveries requeued'),
          el('p', {}, el('a', {href: '#/endpoints'}, 'Back to endpoints'))), fail)))));
  show(el('h2', {}, 'Endpoints'),
    el('table', {id: 'endpoints'}, el('tr', {}, ...['URL', 'Status', 'Success (24 h)', 'Flow', 'Failing', 'Event types', 'Filter', ''].map((h) => el('th', {}, h))), ...rows));
  for (const e of page.data) {
    api('GET', '/v1/endpoints/' + e.id + '/stats?window=24h').then((st) => {
      const td = document.querySelector(`td[data-success="${e.id}"]`);
      if (td) td.replaceChildren(successBar(st));
    }, () => {});
  }
}

// One endpoint: its facts, health charts, a test send, its recent deliveries.
async function endpointPage(id, params) {
  const win = ['1h', '24h', '7d'].includes(params.get('window')) ? params.get('window') : '24h';
  const e = await api('GET', '/v1/endpoints/' + encodeURIComponent(id));
  const st = await api('GET', '/v1/endpoints/' + encodeURIComponent(id) + '/stats?window=' + win);
  const recent = await api('GET', '/v1/deliveries?limit=10&endpoint_id=' + encodeURIComponent(id));
  const sent = el('p', {id: 'test-result'});
  const test = writeButton('Send a test event', () => api('POST', '/v1/endpoints/' + e.id + '/test', {}).then((r) => {
    sent.replaceChildren('Test sent: ', el('a', {href: '#/delivery/' + r.delivery_id, id: 'test-delivery'}, r.delivery_id));
  }, (err) => { sent.textContent = String(err.message || err); }), 'send-test');
  show(el('h2', {}, 'Endpoint ' + e.url),
    el('table', {id: 'endpoint-facts'}, ...[['Id', e.id], ['Status', e.status], ['Flow', flowState(e)],
      ['Event types', e.event_types.length ? e.event_types.join(', ') : 'every type'],
      ['Filter', el('a', {href: '#/filter/' + e.id}, e.filter ? JSON.stringify(e.filter) : 'none')]]
      .map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))),
    test, sent,
    el('h3', {}, 'Health'),
    el('p', {class: 'windows'}, ...['1h', '24h', '7d'].map((w) => w === win ? el('strong', {}, w)
      : el('a', {href: '#/endpoint/' + e.id + '?window=' + w, id: 'window-' + w}, w))),
    statsCharts(st),
    el('h3', {}, 'Recent deliveries'),
    el('table', {id: 'endpoint-deliveries'}, el('tr', {}, ...['Delivery', 'Event type', 'State', 'Attempts', 'Created'].map((h) => el('th', {}, h))),
      ...recent.data.map((d) => el('tr', {'data-delivery': d.id}, el('td', {}, el('a', {href: '#/delivery/' + d.id}, d.id)),
        el('td', {}, d.event_type + (d.test ? ' (test)' : '')), el('td', {class: 'state-' + d.state}, d.state),
        el('td', {}, d.attempt_count), el('td', {}, when(d.created_at))))),
    el('p', {}, el('a', {href: '#/deliveries?endpoint_id=' + e.id}, 'All its deliveries'), ' · ',
      el('a', {href: '#/endpoints'}, 'Back to endpoints')));
}

// Events, newest first: the latest deliveries grouped by their event.
async function eventsPage() {
  const page = await api('GET', '/v1/deliveries?limit=200');
  const events = new Map();
  for (const d of page.data) {
    if (!events.has(d.event_id)) events.set(d.event_id, {id: d.event_id, type: d.event_type, at: d.created_at, test: d.test, states: {}});
    const ev = events.get(d.event_id);
    ev.states[d.state] = (ev.states[d.state] || 0) + 1;
  }
  const rows = [...events.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).map((ev) => el('tr', {'data-event': ev.id},
    el('td', {}, el('a', {href: '#/event/' + ev.id}, ev.id)), el('td', {}, ev.type + (ev.test ? ' (test)' : '')),
    el('td', {}, when(ev.at)), el('td', {}, Object.values(ev.states).reduce((a, b) => a + b, 0)),
    el('td', {}, Object.entries(ev.states).map(([k, v]) => v + ' ' + k).join(', '))));
  show(el('h2', {}, 'Events'),
    el('table', {id: 'events'}, el('tr', {}, ...['Event', 'Type', 'Received', 'Endpoints', 'Deliveries'].map((h) => el('th', {}, h))), ...rows));
}

// One event: its payload and its deliveries.
async function eventPage(id) {
  const ev = await api('GET', '/v1/events/' + encodeURIComponent(id));
  const dls = await Promise.all(ev.delivery_ids.map((d) => api('GET', '/v1/deliveries/' + d).catch(() => null)));
  show(el('h2', {}, 'Event ' + ev.id),
    el('table', {id: 'event-facts'}, ...[['Type', ev.type + (ev.test ? ' (test)' : '')], ['Received', when(ev.created_at)],
      ['Ordering key', ev.ordering_key || '']].map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))),
    el('h3', {}, 'Deliveries'),
    el('table', {id: 'event-deliveries'}, el('tr', {}, ...['Delivery', 'Endpoint', 'State', 'Attempts'].map((h) => el('th', {}, h))),
      ...dls.filter(Boolean).map((d) => el('tr', {'data-delivery': d.id}, el('td', {}, el('a', {href: '#/delivery/' + d.id}, d.id)),
        el('td', {}, el('a', {href: '#/endpoint/' + d.endpoint_id}, d.endpoint_id)), el('td', {class: 'state-' + d.state}, d.state),
        el('td', {}, d.attempt_count)))),
    el('h3', {}, 'Payload'),
    el('pre', {id: 'event-payload'}, JSON.stringify(ev.payload, null, 2)));
}

// An endpoint's filter, and a form that tries it on a sample event
// (POST /v1/endpoints/{id}/test-filter, read scope: nothing is stored).
async function filterPage(id) {
  const e = await api('GET', '/v1/endpoints/' + encodeURIComponent(id));
  const result = el('p', {id: 'filter-result'});
  const form = el('form', {id: 'try-filter'},
    el('label', {}, 'Event type ', el('input', {name: 'type', value: e.event_types[0] || 'order.paid'})),
    el('label', {}, 'Payload (JSON) ', el('textarea', {name: 'payload', rows: '6', cols: '60'}, '{}')),
    el('button', {type: 'submit'}, 'Try'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let payload;
    try { payload = JSON.parse(form.elements.payload.value); } catch (err) {
      result.textContent = 'the payload is not JSON: ' + err.message;
      return;
    }
    api('POST', '/v1/endpoints/' + encodeURIComponent(id) + '/test-filter', {type: form.elements.type.value, payload})
      .then((r) => { result.textContent = r.matches ? 'matches: a delivery would be made' : 'does not match'; },
        (err) => { result.textContent = String(err.message || err); });
  });
  show(el('h2', {}, 'Filter of ' + e.url),
    el('pre', {id: 'filter'}, e.filter ? JSON.stringify(e.filter, null, 2) : 'none: every event of a subscribed type'),
    form, result, el('p', {}, el('a', {href: '#/endpoints'}, 'Back to endpoints')));
}

const FILTERS = ['state', 'endpoint_id', 'event_type', 'created_since', 'created_until'];

async function deliveriesPage(params) {
  const q = new URLSearchParams();
  for (const k of FILTERS.concat(['cursor'])) if (params.get(k)) q.set(k, params.get(k));
  q.set('limit', '50');
  const page = await api('GET', '/v1/deliveries?' + q.toString());
  const form = el('form', {class: 'filters', id: 'filters'},
    el('label', {}, 'State', el('select', {name: 'state'}, ...['', 'pending', 'in_progress', 'retrying', 'completed',
      'errored', 'canceled'].map((s) => { const o = el('option', {value: s}, s || 'any'); if (s === (params.get('state') || '')) o.selected = true; return o; }))),
    el('label', {}, 'Endpoint', el('input', {name: 'endpoint_id', value: params.get('endpoint_id') || ''})),
    el('label', {}, 'Event type', el('input', {name: 'event_type', value: params.get('event_type') || ''})),
    el('label', {}, 'Created since', el('input', {name: 'created_since', type: 'datetime-local'})),
    el('label', {}, 'Created until', el('input', {name: 'created_until', type: 'datetime-local'})),
    el('button', {type: 'submit'}, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new URLSearchParams();
    for (const k of FILTERS) {
      let v = form.elements[k].value;
      if (v && k.startsWith('created_')) v = new Date(v).toISOString();
      if (v) f.set(k, v);
    }
    location.hash = '#/deliveries?' + f.toString();
  });
  const rows = page.data.map((d) => el('tr', {'data-delivery': d.id},
    el('td', {}, el('a', {href: '#/delivery/' + d.id}, d.id)),
    el('td', {}, d.event_type),
    el('td', {class: 'state-' + d.state}, d.state),
    el('td', {}, d.attempt_count),
    el('td', {}, d.response ? (d.response.code || d.response.error || '') : ''),
    el('td', {}, when(d.created_at))));
  const nodes = [el('h2', {}, 'Deliveries'), form,
    el('table', {id: 'deliveries'}, el('tr', {}, ...['Delivery', 'Event type', 'State', 'Attempts', 'Last', 'Created'].map((h) => el('th', {}, h))), ...rows)];
  if (page.next_cursor) {
    const next = new URLSearchParams(q);
    next.set('cursor', page.next_cursor);
    next.delete('limit');
    nodes.push(el('a', {href: '#/deliveries?' + next.toString(), id: 'next'}, 'Next page'));
  }
  if (canWrite() && orgWide()) nodes.push(resendForm());
  show(...nodes);
}

// contract 000's time-range resend, run as a job whose progress is shown
function resendForm() {
  const form = el('form', {class: 'filters write', id: 'resend'},
    el('label', {}, 'Resend from', el('input', {name: 'from', type: 'datetime-local', required: ''})),
    el('label', {}, 'to', el('input', {name: 'to', type: 'datetime-local', required: ''})),
    el('button', {type: 'submit'}, 'Resend this time range'),
    el('span', {id: 'job'}));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const secs = (name) => Math.floor(new Date(form.elements[name].value).getTime() / 1000);
    try {
      const r = await api('POST', '/api/webhooks/resend', {search_type: 'time_range',
        request_timestamp: secs('from'), end_request_timestamp: secs('to')});
      const out = document.getElementById('job');
      for (;;) {
        const j = await api('GET', '/v1/jobs/' + r.job_id);
        out.textContent = 'job ' + j.id + ': ' + j.state + ', ' + j.done + ' of ' + j.matched + ' resent';
        if (j.state !== 'running') break;
        await new Promise((ok) => setTimeout(ok, 500));
      }
    } catch (err) { fail(err); }
  });
  return form;
}

async function deliveryPage(id) {
  const d = await api('GET', '/v1/deliveries/' + encodeURIComponent(id));
  const atts = await api('GET', '/v1/deliveries/' + encodeURIComponent(id) + '/attempts');
  let payload = '';
  try { payload = JSON.stringify((await api('GET', '/v1/events/' + d.event_id)).payload, null, 2); } catch (e) { payload = '(event no longer kept)'; }
  const facts = [['Delivery', d.id], ['Event', el('a', {href: '#/event/' + d.event_id, id: 'event-link'}, d.event_id + (d.test ? ' (test)' : ''))], ['Event type', d.event_type], ['Endpoint', d.endpoint_id],
    ['State', d.state], ['Attempts', d.attempt_count], ['Next retry', when(d.next_retry_at)],
    ['Delivered', when(d.delivered_at)], ['Replay of', d.replay_of_delivery_id || ''], ['Created', when(d.created_at)]];
  if (d.ordering_key != null) facts.push(['Ordering key', d.ordering_key]);
  if (d.held_by) facts.push(['Held behind', el('a', {href: '#/delivery/' + d.held_by, id: 'held-by'}, d.held_by)]);
  const redeliver = writeButton('Redeliver', () => api('POST', '/v1/webhooks/deliveries/' + d.id + '/replay')
    .then((r) => { location.hash = '#/delivery/' + r.id; }, fail), 'redeliver');
  show(el('h2', {}, 'Delivery'),
    el('table', {id: 'facts'}, ...facts.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))),
    redeliver,
    el('h3', {}, 'Attempts'),
    el('table', {id: 'attempts'}, el('tr', {}, ...['#', 'Started', 'Duration', 'Status or error', 'Response (first bytes)'].map((h) => el('th', {}, h))),
      ...atts.data.map((a) => el('tr', {class: 'attempt'}, el('td', {}, a.number), el('td', {}, when(a.started_at)),
        el('td', {}, a.duration_ms + ' ms'), el('td', {}, a.status_code || a.error || ''),
        el('td', {}, el('pre', {class: 'response'}, a.response_body))))),
    el('h3', {}, 'Payload'),
    el('pre', {id: 'payload'}, payload));
}

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  const [path, query] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  try {
    if (path.startsWith('/delivery/')) await deliveryPage(decodeURIComponent(path.slice('/delivery/'.length)));
    else if (path === '/deliveries') await deliveriesPage(params);
    else if (path.startsWith('/filter/')) await filterPage(decodeURIComponent(path.slice('/filter/'.length)));
    else if (path.startsWith('/endpoint/')) await endpointPage(decodeURIComponent(path.slice('/endpoint/'.length)), params);
    else if (path === '/events') await eventsPage();
    else if (path.startsWith('/event/')) await eventPage(decodeURIComponent(path.slice('/event/'.length)));
    else await endpointsPage();
  } catch (err) { fail(err); }
}

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    me = await api('GET', '/v1/me');
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw err;
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = (me.portal ? 'portal of org ' : 'org ') + me.org_id + (canWrite() ? '' : ' (read only)') +
    (me.portal && me.expires_at ? ', until ' + when(me.expires_at) : '');
  if (!location.hash) location.hash = '#/endpoints';
  await route();
}

// A portal link (<public_url>/console#code=...): the one-time code, read
// from the fragment (never sent in a request line or a Referer), is
// exchanged for a session token and taken out of the address bar at once.
async function portalSignIn(code) {
  history.replaceState(null, '', location.pathname + '#/endpoints');
  sessionStorage.removeItem(TOKEN_KEY);
  try {
    const res = await fetch('/v1/portal-sessions', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({code})});
    if (!res.ok) throw new Error('this link is invalid, expired or already used');
    await signIn((await res.json()).token);
  } catch (err) {
    signedOut('Sign-in failed: ' + err.message);
  }
}

// back to the sign-in form (kept from the page's first load), with a reason
let signinForm = null;
function signedOut(why) {
  me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('nav').hidden = true;
  show(signinForm);
  document.getElementById('signin-error').textContent = why;
}

document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('signin');
  signinForm = form;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    signIn(document.getElementById('token').value.trim()).catch((err) => {
      document.getElementById('signin-error').textContent = 'Sign-in failed: ' + err.message;
    });
  });
  document.getElementById('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = '';
    location.reload();
  });
  // a portal link may also arrive as a new fragment of an open console
  const portalCode = () => new URLSearchParams(location.hash.slice(1)).get('code');
  window.addEventListener('hashchange', () => (portalCode() ? portalSignIn(portalCode()) : route()));
  if (portalCode()) portalSignIn(portalCode());
  else if (sessionStorage.getItem(TOKEN_KEY)) signIn(sessionStorage.getItem(TOKEN_KEY)).catch(() => {});
});
