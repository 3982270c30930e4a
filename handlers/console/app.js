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
    el('td', {}, el('a', {href: '#/deliveries?endpoint_id=' + e.id}, e.url)),
    el('td', {class: 'status status-' + e.status}, e.status),
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
    el('table', {id: 'endpoints'}, el('tr', {}, ...['URL', 'Status', 'Flow', 'Failing', 'Event types', 'Filter', ''].map((h) => el('th', {}, h))), ...rows));
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
  if (canWrite()) nodes.push(resendForm());
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
  const facts = [['Delivery', d.id], ['Event', d.event_id], ['Event type', d.event_type], ['Endpoint', d.endpoint_id],
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
  document.getElementById('who').textContent = 'org ' + me.org_id + (canWrite() ? '' : ' (read only)');
  if (!location.hash) location.hash = '#/endpoints';
  await route();
}

document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('signin');
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
  window.addEventListener('hashchange', route);
  if (sessionStorage.getItem(TOKEN_KEY)) signIn(sessionStorage.getItem(TOKEN_KEY)).catch(() => {});
});
