// The call-history page: past (and live) calls from the records API (GET /calls, /calls/{sid},
// /stats; docs/records.md). Plain DOM, no build step; everything from a call is inserted as text.

const TOKEN_KEY = 'dashboardToken'; // shared with the live page
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  filters: new URLSearchParams(),
  nextCursor: null,
  selected: null,
};

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function setStatus(text) {
  $('history-status').textContent = text;
}

/** GET (or DELETE) the API with the dashboard token; 401/403 show the sign-in or the reason. */
async function api(path, method = 'GET') {
  const res = await fetch(path, { method, headers: state.token ? { Authorization: `Bearer ${state.token}` } : {} });
  if (res.status === 401) {
    showSignIn(state.token ? 'That token was not accepted.' : 'This server needs the dashboard token (DASHBOARD_TOKEN, or the one it printed at start).');
    throw new Error('unauthorized');
  }
  if (res.status === 403) {
    $('history').hidden = true;
    $('history-blocked').textContent = 'The server refused access to the call records (HTTP 403).';
    $('history-blocked').hidden = false;
    throw new Error('forbidden');
  }
  if (res.status === 503) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.message ?? 'records unavailable');
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.status === 204 ? null : res.json();
}

function showSignIn(reason) {
  $('history').hidden = true;
  $('history-token-reason').textContent = reason;
  $('history-token-form').hidden = false;
  $('history-token').focus();
}

$('history-token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('history-token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('history-token').value = '';
  $('history-token-form').hidden = true;
  void start();
});

// ---- formatting ---------------------------------------------------------------------------

function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function offset(ms) {
  if (ms === null || ms === undefined) return '';
  const tenths = Math.max(0, Math.round(ms / 100));
  return `${Math.floor(tenths / 600)}:${String(Math.floor(tenths / 10) % 60).padStart(2, '0')}.${tenths % 10}`;
}

function money(usd) {
  if (usd === null || usd === undefined) return 'unknown';
  return `$${usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

function when(iso) {
  return new Date(iso).toLocaleString();
}

function fact(list, label, value) {
  list.append(el('div', {}, el('dt', { textContent: label }), el('dd', { textContent: String(value) })));
}

// ---- today's totals -------------------------------------------------------------------------

async function loadToday() {
  const from = new Date();
  from.setHours(0, 0, 0, 0);
  const stats = await api(`/stats?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(new Date().toISOString())}`);
  const list = $('today');
  list.replaceChildren();
  fact(list, 'Calls', stats.calls);
  fact(list, 'Minutes', stats.minutes.toFixed(1));
  fact(list, 'Cost', money(stats.costUsd) + (stats.unpricedCalls ? ` (+${stats.unpricedCalls} unpriced)` : ''));
  fact(list, 'Mean first audio', stats.meanFirstAudioMs === null ? '—' : `${stats.meanFirstAudioMs} ms`);
  fact(list, 'Barge-ins', stats.bargeIns);
  fact(list, 'Failures', stats.failures);
}

// ---- the list -------------------------------------------------------------------------------

function readFilters() {
  const params = new URLSearchParams();
  const text = (id) => $(id).value.trim();
  if (text('f-q')) params.set('q', text('f-q'));
  if (text('f-number')) params.set('number', text('f-number'));
  if (text('f-direction')) params.set('direction', text('f-direction'));
  if (text('f-end-reason')) params.set('endReason', text('f-end-reason'));
  if (text('f-min')) params.set('minDurationS', text('f-min'));
  // Date inputs are local days: from the start of the first to the end of the last.
  if (text('f-from')) params.set('from', new Date(`${text('f-from')}T00:00:00`).toISOString());
  if (text('f-to')) params.set('to', new Date(`${text('f-to')}T23:59:59.999`).toISOString());
  return params;
}

async function loadCalls(append) {
  const params = new URLSearchParams(state.filters);
  if (append && state.nextCursor) params.set('cursor', state.nextCursor);
  const page = await api(`/calls?${params}`);
  if (!append) $('call-rows').replaceChildren();
  for (const call of page.calls) $('call-rows').append(callRow(call));
  state.nextCursor = page.nextCursor;
  $('more').hidden = !page.nextCursor;
  $('no-results').hidden = $('call-rows').children.length > 0;
}

function callRow(call) {
  const row = el(
    'tr',
    {},
    el('td', {}, el('a', { href: `#${call.callSid}`, textContent: when(call.startedAt) })),
    el('td', { textContent: `${call.from ?? 'unknown'} → ${call.to ?? '?'}` }),
    el('td', { textContent: call.endedAt ? duration(call.durationMs) : '—' }),
    el('td', {}, call.endedAt ? call.endReason : el('span', { className: 'live-badge', textContent: 'live' })),
    el('td', { textContent: money(call.costUsd) }),
  );
  row.dataset.callSid = call.callSid;
  row.setAttribute('aria-selected', String(call.callSid === state.selected));
  row.addEventListener('click', () => (location.hash = call.callSid));
  return row;
}

$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  state.filters = readFilters();
  loadCalls(false).catch(fail);
});

$('more').addEventListener('click', () => loadCalls(true).catch(fail));

// ---- one call -------------------------------------------------------------------------------

async function showCall(callSid) {
  state.selected = callSid;
  for (const row of $('call-rows').children) row.setAttribute('aria-selected', String(row.dataset.callSid === callSid));
  if (!callSid) {
    $('record').hidden = true;
    return;
  }
  let record;
  try {
    record = await api(`/calls/${encodeURIComponent(callSid)}`);
  } catch (err) {
    $('record').hidden = true;
    return fail(err);
  }
  $('record').hidden = false;
  $('record-title').textContent = `Call from ${record.from ?? 'unknown caller'}`;
  const facts = $('record-facts');
  facts.replaceChildren();
  fact(facts, 'Call SID', record.callSid);
  fact(facts, 'Started', when(record.startedAt));
  fact(facts, 'To', record.to ?? '?');
  fact(facts, 'Direction', record.direction ?? '—');
  fact(facts, 'Duration', record.endedAt ? duration(record.durationMs) : 'live');
  fact(facts, 'Outcome', record.endedAt ? record.endReason : 'live');
  if (record.endDetail) fact(facts, 'Why', record.endDetail);
  fact(facts, 'Engine', `${record.engine} · ${record.model} · ${record.voice}`);
  fact(facts, 'First audio', record.firstAudioMs === null ? '—' : `${record.firstAudioMs} ms`);
  fact(facts, 'Barge-ins', record.bargeIns);
  fact(facts, 'Reconnects', record.reconnects);
  fact(facts, 'Cost', money(record.costUsd) + (record.endedAt ? '' : ' so far'));

  $('record-transcript').replaceChildren(
    ...record.transcript.map((t) => {
      const item = el(
        'li',
        { className: t.role },
        el('span', { className: 'offset', textContent: offset(t.startMs) }),
        el('span', { className: 'role', textContent: t.role === 'user' ? 'Caller' : 'Assistant' }),
        el('span', { className: 'text', textContent: t.text }),
      );
      if (t.interruptedAtMs !== null) item.append(el('span', { className: 'cut', textContent: `✂ interrupted at ${(t.interruptedAtMs / 1000).toFixed(1)} s` }));
      return item;
    }),
  );
  $('record-tools').replaceChildren(
    ...record.toolCalls.map((t) =>
      el(
        'li',
        {},
        el('strong', { textContent: t.name }),
        ' ',
        el('span', {
          textContent: `${t.outcome}${t.durationMs !== null ? ` in ${t.durationMs} ms` : ''}${t.answeredBy === 'operator' ? ' · answered by operator' : ''}`,
        }),
        el('div', { className: 'hint', textContent: 'Arguments' }),
        el('pre', { textContent: t.arguments || '{}' }),
        el('div', { className: 'hint', textContent: t.error ? `Error: ${t.error}` : 'Output' }),
        el('pre', { textContent: t.output ?? '' }),
      ),
    ),
  );
  if (record.toolCalls.length === 0) $('record-tools').append(el('li', { className: 'hint', textContent: 'None.' }));
  $('record-timeline').replaceChildren(
    ...record.timeline.map((e) => el('li', {}, el('span', { className: 'offset', textContent: offset(e.offsetMs) }), describe(e))),
  );

  const usage = $('record-usage');
  usage.replaceChildren();
  const u = record.usage;
  fact(usage, 'Responses', u.responses);
  fact(usage, 'Input tokens', `${u.inputTokens} (audio ${u.inputAudioTokens}, text ${u.inputTextTokens})`);
  fact(usage, 'Cached input', u.cachedTokens);
  fact(usage, 'Output tokens', `${u.outputTokens} (audio ${u.outputAudioTokens}, text ${u.outputTextTokens})`);
  if (u.audioInSeconds !== null) fact(usage, 'Caller audio', `${u.audioInSeconds.toFixed(1)} s`);
  if (u.billedSeconds !== null) fact(usage, 'Billed time', `${u.billedSeconds.toFixed(1)} s`);
  fact(usage, 'Cost', money(record.costUsd));
}

/** One timeline line, in words. */
function describe(event) {
  const d = event.data;
  switch (event.type) {
    case 'call.started':
      return `call started (${d.engine ?? 'realtime'} ${d.model ?? ''})`;
    case 'call.ended':
      return `call ended: ${d.reason}${d.detail ? ` — ${d.detail}` : ''}`;
    case 'model.status':
      return `model ${d.status}${d.reconnectMs !== undefined ? ` after ${d.reconnectMs} ms (reconnect)` : ''}${d.connectMs !== undefined ? ` in ${d.connectMs} ms` : ''}${d.detail ? ` — ${d.detail}` : ''}`;
    case 'barge_in':
      return `caller barged in (assistant cut at ${(d.audioEndMs / 1000).toFixed(1)} s)`;
    case 'function_call.started':
      return `tool ${d.name} called`;
    case 'function_call.finished':
      return `tool ${d.name} ${d.error ? 'failed' : 'answered'} in ${d.durationMs} ms${d.answeredBy === 'operator' ? ' (by the operator)' : ''}`;
    case 'transcript.done':
      return `${d.role === 'user' ? 'caller' : 'assistant'}: ${String(d.text ?? '').slice(0, 80)}`;
    case 'dtmf':
      return `caller pressed ${d.digit}`;
    case 'latency':
      return `${d.kind === 'first_audio' ? 'first audio' : 'answer'} after ${d.ms} ms`;
    case 'error':
      return `${d.source} error: ${d.message}`;
    default:
      return event.type;
  }
}

$('delete-call').addEventListener('click', async () => {
  const callSid = state.selected;
  if (!callSid || !confirm(`Delete the record of ${callSid}? This cannot be undone.`)) return;
  try {
    await api(`/calls/${encodeURIComponent(callSid)}`, 'DELETE');
    setStatus(`deleted ${callSid}`);
    history.replaceState(null, '', location.pathname);
    await showCall(null);
    await loadCalls(false);
  } catch (err) {
    fail(err);
  }
});

window.addEventListener('hashchange', () => void showCall(location.hash.slice(1) || null));

function fail(err) {
  if (err.message === 'unauthorized' || err.message === 'forbidden') return;
  setStatus(`Error: ${err.message}`);
}

async function start() {
  try {
    await loadToday();
    $('history').hidden = false;
    await loadCalls(false);
    setStatus('Up to date');
    if (location.hash.length > 1) await showCall(location.hash.slice(1));
  } catch (err) {
    fail(err);
  }
}

void start();
