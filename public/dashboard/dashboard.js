// The operator's page. It reads the dashboard socket (/ws/logs, envelope v1: see the README) and
// the configuration API (/session-config). Plain DOM, no framework, no build step; everything
// that comes from a call (transcripts, arguments) is inserted as text, never as HTML.

const TOKEN_KEY = 'dashboardToken';
const MAX_ENDED_CALLS = 20;
const $ = (id) => document.getElementById(id);

/**
 * The server prints a link with the token in the fragment (#token=…), which browsers never send
 * to a server: it moves to this tab's session storage and out of the address bar (and history).
 */
function tokenFromLink() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (!token) return null;
  fragment.delete('token');
  const rest = fragment.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  sessionStorage.setItem(TOKEN_KEY, token);
  return token;
}

const state = {
  token: tokenFromLink() ?? sessionStorage.getItem(TOKEN_KEY),
  /** callSid → call, newest first in the list. */
  calls: new Map(),
  selected: null,
  socket: null,
  retryMs: 500,
  /** Command id → callback for its command.ok / command.error. */
  pending: new Map(),
  nextId: 1,
  configLoaded: false,
};

// ---- access ---------------------------------------------------------------------------------

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

/** Checks access through the API (401: the token is missing or wrong). */
async function start() {
  let res;
  try {
    res = await fetch('/session-config', { headers: authHeaders() });
  } catch {
    return retryLater('server unreachable');
  }
  if (res.status === 401)
    return askForToken(
      state.token
        ? 'That token was not accepted.'
        : 'This server needs the dashboard token: DASHBOARD_TOKEN, or, when that is not set, open the link with a token the server printed to its terminal at start.',
    );
  if (!res.ok) return retryLater(`HTTP ${res.status}`);
  $('token-form').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = !state.token;
  // Fill the form once: a reconnect must not overwrite what the operator is typing.
  if (!state.configLoaded) {
    fillConfig(await res.json());
    state.configLoaded = true;
  }
  connect();
  refreshHealth(); // now with the token (production serves health details to the operator only)
}

function askForToken(reason) {
  $('app').hidden = true;
  $('token-reason').textContent = reason;
  $('token-form').hidden = false;
  $('token').focus();
}

function retryLater(why) {
  setLink(`offline (${why}), retrying…`);
  setTimeout(start, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10_000);
}

// The printed link pasted into a tab that already shows this page only changes the fragment: start over with it.
window.addEventListener('hashchange', () => {
  if (tokenFromLink()) location.reload();
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('token').value = '';
  start();
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

// ---- the socket -----------------------------------------------------------------------------

function connect() {
  const url = new URL('/ws/logs', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (state.token) url.searchParams.set('token', state.token);
  const socket = new WebSocket(url);
  state.socket = socket;
  setLink('connecting…');
  socket.addEventListener('open', () => {
    state.retryMs = 500;
    setLink('live');
  });
  socket.addEventListener('message', (event) => onMessage(JSON.parse(event.data)));
  socket.addEventListener('close', (event) => {
    state.socket = null;
    for (const callback of state.pending.values()) callback({ type: 'command.error', message: 'connection lost' });
    state.pending.clear();
    // 4008: this page fell behind and was dropped; a reconnect brings a fresh snapshot.
    retryLater(event.code === 4008 ? 'fell behind' : 'disconnected');
  });
}

function setLink(text) {
  $('link').textContent = `Dashboard: ${text}`;
}

/** Sends a command; `onReply` gets its command.ok or command.error. */
function send(command, onReply) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return onReply?.({ type: 'command.error', message: 'not connected' });
  const id = `c${state.nextId++}`;
  if (onReply) state.pending.set(id, onReply);
  state.socket.send(JSON.stringify({ ...command, id }));
}

function onMessage(msg) {
  if (msg.v !== 1) return; // a future envelope version: ignore rather than misread it
  if (msg.type === 'snapshot') return applySnapshot(msg.calls);
  if (msg.type === 'command.ok' || msg.type === 'command.error') {
    const callback = state.pending.get(msg.id);
    state.pending.delete(msg.id);
    return callback?.(msg);
  }
  const call = msg.type === 'call.started' ? addCall(msg) : state.calls.get(msg.callSid);
  if (!call) return;
  switch (msg.type) {
    case 'call.ended':
      call.endedAt = Date.parse(msg.ts);
      call.endReason = msg.reason;
      call.endDetail = msg.detail ?? call.problem;
      call.modelStatus = 'closed';
      for (const fc of call.functionCalls.values()) if (fc.status === 'running') fc.status = 'abandoned';
      renderFunctions(call);
      pruneEnded();
      break;
    case 'model.status':
      call.modelStatus = msg.status;
      if (msg.status === 'failed') {
        call.problem = msg.problem?.message ?? msg.detail ?? null;
        addNote(call, `Model failed: ${call.problem ?? 'no reason given'}`, true, msg.ts);
      }
      break;
    case 'latency':
      if (msg.kind === 'first_audio') call.latency.firstAudioMs = msg.ms;
      else {
        call.latency.answers += 1;
        call.answerTotalMs += msg.ms;
        call.latency.lastAnswerMs = msg.ms;
        call.latency.meanAnswerMs = Math.round(call.answerTotalMs / call.latency.answers);
      }
      break;
    case 'transcript.delta': {
      const entry = transcriptEntry(call, msg.itemId, msg.role, msg.ts);
      entry.text += msg.delta;
      renderEntry(call, msg.itemId);
      break;
    }
    case 'transcript.done': {
      const entry = transcriptEntry(call, msg.itemId, msg.role, msg.ts);
      entry.text = msg.text;
      entry.final = true;
      renderEntry(call, msg.itemId);
      break;
    }
    case 'barge_in': {
      const entry = call.entries.get(msg.itemId);
      if (entry) {
        entry.interruptedAtMs = msg.audioEndMs;
        renderEntry(call, msg.itemId);
      }
      break;
    }
    case 'function_call.started':
      call.functionCalls.set(msg.callId, { callId: msg.callId, name: msg.name, arguments: msg.arguments, status: 'running' });
      renderFunction(call, msg.callId);
      break;
    case 'function_call.finished': {
      const fc = call.functionCalls.get(msg.callId);
      if (!fc) break;
      Object.assign(fc, { status: 'done', output: msg.output, durationMs: msg.durationMs, error: msg.error, answeredBy: msg.answeredBy });
      renderFunction(call, msg.callId);
      break;
    }
    case 'dtmf':
      addNote(call, `Caller pressed ${msg.digit}`, false, msg.ts);
      break;
    case 'usage':
      call.tokens += msg.totalTokens;
      call.billedSeconds += msg.billedSeconds ?? 0;
      break;
    case 'cost':
      call.costUsd = msg.totalUsd;
      break;
    case 'error':
      addNote(call, `${msg.source} error: ${msg.message}`, true, msg.ts);
      break;
  }
  renderCallItem(call);
  if (call.callSid === state.selected) renderHeader();
}

// ---- state ----------------------------------------------------------------------------------

function newCall(info) {
  return {
    callSid: info.callSid,
    from: info.from,
    to: info.to,
    direction: info.direction,
    startedAt: Date.parse(info.startedAt),
    endedAt: null,
    endReason: null,
    /** Why the call failed, in words a person can act on (call.ended detail, or the model's problem). */
    endDetail: null,
    problem: info.modelProblem ?? null,
    modelStatus: info.modelStatus ?? 'connecting',
    latency: { firstAudioMs: null, lastAnswerMs: null, meanAnswerMs: null, answers: 0, ...info.latency },
    answerTotalMs: (info.latency?.meanAnswerMs ?? 0) * (info.latency?.answers ?? 0),
    /** Transcript lines and notes, in arrival order, by key (item id for speech). */
    entries: new Map(),
    functionCalls: new Map(),
    /** The voice engine and model the call runs on (call.started; the snapshot for calls already running). */
    engine: info.engine ?? 'realtime',
    model: info.model ?? '',
    tokens: info.usage?.tokens ?? 0,
    billedSeconds: info.usage?.billedSeconds ?? 0,
    /** USD so far (null: the model has no price; undefined: nothing priced yet). */
    costUsd: info.costUsd,
    notes: 0,
  };
}

function addCall(msg) {
  const call = newCall(msg);
  state.calls = new Map([[call.callSid, call], ...state.calls]);
  if (!state.selected || state.calls.get(state.selected)?.endedAt) selectCall(call.callSid);
  renderCallList();
  return call;
}

function applySnapshot(views) {
  const live = new Set(views.map((v) => v.callSid));
  // Calls that ended while this page was disconnected stay listed, as ended.
  for (const call of state.calls.values()) {
    if (!live.has(call.callSid) && !call.endedAt) {
      call.endedAt = Date.now();
      call.endReason = 'ended';
    }
  }
  for (const view of views) {
    const call = newCall(view);
    for (const t of view.transcript) call.entries.set(t.itemId, { kind: 'speech', ...t, at: Date.parse(t.at) });
    for (const fc of view.functionCalls) call.functionCalls.set(fc.callId, { ...fc });
    state.calls.delete(call.callSid);
    state.calls.set(call.callSid, call);
  }
  state.calls = new Map([...state.calls].sort(([, a], [, b]) => b.startedAt - a.startedAt));
  if (!state.selected || !state.calls.has(state.selected)) state.selected = views[0]?.callSid ?? null;
  pruneEnded();
  renderCallList();
  renderSelected();
}

function pruneEnded() {
  const ended = [...state.calls.values()].filter((c) => c.endedAt);
  for (const call of ended.slice(MAX_ENDED_CALLS)) state.calls.delete(call.callSid);
}

function transcriptEntry(call, itemId, role, ts) {
  let entry = call.entries.get(itemId);
  if (!entry) {
    entry = { kind: 'speech', itemId, role, text: '', final: false, at: Date.parse(ts) };
    call.entries.set(itemId, entry);
  }
  return entry;
}

function addNote(call, text, isError, ts) {
  const key = `note-${call.notes++}`;
  call.entries.set(key, { kind: 'note', text, isError, at: Date.parse(ts) });
  renderEntry(call, key);
}

// ---- rendering ------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Wall-clock time in the operator's locale, to the second. */
function clock(ms) {
  return Number.isFinite(ms) ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }) : '';
}

const ENGINE_NAMES = { realtime: 'Realtime', live: 'GPT-Live' };

function engineLabel(call) {
  return `${ENGINE_NAMES[call.engine] ?? call.engine}${call.model ? ` ${call.model}` : ''}`;
}

/** What "Apply to selected call" can change, by the call's engine (the engine itself never changes mid-call). */
const RUNNING_CALL_CHANGES = {
  realtime: 'This Realtime call: instructions, tools and turn detection change at once; the voice only until the assistant has spoken; the engine never.',
  live: "This GPT-Live call: tools change at once; new instructions replace its backend's and are appended to its voice model's (about 500 tokens at most); the voice and the engine are fixed at start; turn detection does not apply.",
};

function callStatus(call) {
  if (call.endedAt) return `ended (${call.endReason})${call.endDetail ? `: ${call.endDetail}` : ''}`;
  if (call.modelStatus === 'failed' && call.problem) return `model failed: ${call.problem}`;
  return `model ${call.modelStatus}`;
}

/** What the caller waited: first audio of the call, and the answers (last and mean), as the server measured them. */
function latencyText(latency) {
  const parts = [];
  if (latency.firstAudioMs !== null) parts.push(`first audio ${latency.firstAudioMs} ms`);
  if (latency.answers > 0) {
    const turns = latency.answers === 1 ? '1 answer' : `mean ${latency.meanAnswerMs} ms over ${latency.answers} answers`;
    parts.push(`answer ${latency.lastAnswerMs} ms (${turns})`);
  }
  return parts.join(' · ');
}

const callItems = new Map();

function renderCallList() {
  const list = $('call-list');
  for (const [sid, item] of callItems) {
    if (!state.calls.has(sid)) {
      item.remove();
      callItems.delete(sid);
    }
  }
  for (const call of state.calls.values()) {
    renderCallItem(call);
    list.append(callItems.get(call.callSid)); // re-appending keeps the order without rebuilding
  }
  $('no-calls').hidden = state.calls.size > 0;
}

function renderCallItem(call) {
  let item = callItems.get(call.callSid);
  if (!item) {
    const button = el('button', { type: 'button' });
    button.addEventListener('click', () => selectCall(call.callSid));
    item = el('li', {}, button);
    item.dataset.callSid = call.callSid;
    callItems.set(call.callSid, item);
    $('call-list').prepend(item);
  }
  const button = item.firstChild;
  button.setAttribute('aria-pressed', String(call.callSid === state.selected));
  const end = call.endedAt ?? Date.now();
  button.replaceChildren(
    el('span', { textContent: `${call.from ?? 'Unknown caller'} → ${call.to ?? '?'}` }),
    el('span', { className: 'meta', textContent: `${clock(call.startedAt)} · ${duration(end - call.startedAt)} · ${callStatus(call)}` }),
  );
  item.classList.toggle('ended', Boolean(call.endedAt));
}

function selectCall(callSid) {
  state.selected = callSid;
  for (const call of state.calls.values()) renderCallItem(call);
  renderSelected();
}

function renderHeader() {
  const call = state.calls.get(state.selected);
  $('hangup').hidden = !call || Boolean(call.endedAt);
  $('apply-live').disabled = !call || Boolean(call.endedAt);
  if (!call) {
    $('call-title').textContent = 'No call selected';
    $('call-status').textContent = '';
    $('call-detail').textContent = '';
    return;
  }
  $('call-title').textContent = `Call from ${call.from ?? 'unknown caller'}`;
  $('call-status').textContent = callStatus(call);
  const end = call.endedAt ?? Date.now();
  $('call-detail').textContent =
    `${call.callSid} · ${call.direction ?? 'inbound'} to ${call.to ?? '?'} · started ${clock(call.startedAt)} · ${duration(end - call.startedAt)}` +
    ` · ${engineLabel(call)}` +
    (call.billedSeconds ? ` · ${call.billedSeconds.toFixed(1)} s billed` : '') +
    (call.tokens ? ` · ${call.tokens} tokens` : '') +
    costText(call.costUsd, Boolean(call.endedAt));
  $('live-changes').textContent = call.endedAt ? '' : (RUNNING_CALL_CHANGES[call.engine] ?? '');
  $('call-latency').textContent = latencyText(call.latency);
  $('call-latency').hidden = $('call-latency').textContent === '';
}

/** The call's cost so far, as the header shows it ('' before the first priced response). */
function costText(usd, ended) {
  if (usd === undefined) return '';
  if (usd === null) return ' · cost unknown';
  return ` · $${usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}${ended ? '' : ' so far'}`;
}

function renderSelected() {
  renderHeader();
  $('transcript').replaceChildren();
  $('functions').replaceChildren();
  const call = state.calls.get(state.selected);
  if (!call) return renderFunctions(null);
  for (const key of call.entries.keys()) renderEntry(call, key);
  renderFunctions(call);
}

function renderEntry(call, key) {
  if (call.callSid !== state.selected) return;
  const list = $('transcript');
  const entry = call.entries.get(key);
  let item = list.querySelector(`li[data-key="${CSS.escape(key)}"]`);
  const stickToBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (!item) {
    item = el('li');
    item.dataset.key = key;
    list.append(item);
  }
  const at = el('time', { className: 'at', textContent: clock(entry.at) });
  if (Number.isFinite(entry.at)) at.dateTime = new Date(entry.at).toISOString();
  if (entry.kind === 'note') {
    item.className = entry.isError ? 'note error' : 'note';
    item.replaceChildren(at, el('span', { className: 'text', textContent: entry.text }));
  } else {
    item.className = `${entry.role}${entry.final ? '' : ' partial'}`;
    item.replaceChildren(
      at,
      el('span', { className: 'role', textContent: entry.role === 'user' ? 'Caller' : 'Assistant' }),
      el('span', { className: 'text', textContent: entry.text }),
    );
    if (entry.interruptedAtMs !== undefined) {
      item.append(el('span', { className: 'cut', textContent: `✂ interrupted by the caller at ${(entry.interruptedAtMs / 1000).toFixed(1)} s` }));
    }
  }
  if (stickToBottom) list.scrollTop = list.scrollHeight;
}

function renderFunctions(call) {
  if (!call || call.callSid !== state.selected) return;
  for (const callId of call.functionCalls.keys()) renderFunction(call, callId);
  $('no-functions').hidden = call.functionCalls.size > 0;
}

function renderFunction(call, callId) {
  if (call.callSid !== state.selected) return;
  $('no-functions').hidden = true;
  const fc = call.functionCalls.get(callId);
  const list = $('functions');
  let item = list.querySelector(`li[data-call-id="${CSS.escape(callId)}"]`);
  if (item && item.dataset.status === fc.status) return; // keep a half-typed answer as it is
  if (!item) {
    item = el('li');
    item.dataset.callId = callId;
    list.append(item);
  }
  item.dataset.status = fc.status;
  const status =
    fc.status === 'running'
      ? 'running…'
      : fc.status === 'abandoned'
        ? 'abandoned (call ended)'
        : `${fc.error ? 'failed' : 'done'} in ${fc.durationMs} ms${fc.answeredBy === 'operator' ? ' · answered by operator' : ''}`;
  item.replaceChildren(
    el('strong', { textContent: fc.name }),
    ' ',
    el('span', { className: fc.status === 'running' ? 'running' : '', textContent: status }),
    el('div', { className: 'hint', textContent: 'Arguments' }),
    el('pre', { textContent: fc.arguments || '{}' }),
  );
  if (fc.status === 'done') item.append(el('div', { className: 'hint', textContent: 'Output' }), el('pre', { textContent: fc.output }));
  if (fc.status === 'running') item.append(answerForm(call.callSid, fc));
}

function answerForm(callSid, fc) {
  const fieldId = `answer-${fc.callId}`;
  const textarea = el('textarea', { id: fieldId, rows: 2, required: true });
  const button = el('button', { type: 'submit', textContent: 'Send answer' });
  const status = el('p', { className: 'hint', role: 'status' });
  const form = el('form', {}, el('label', { htmlFor: fieldId, textContent: `Answer ${fc.name} by hand (JSON or text)` }), textarea, button, status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    button.disabled = true;
    send({ type: 'function_call.answer', callSid, callId: fc.callId, output: textarea.value }, (reply) => {
      button.disabled = false;
      status.textContent = reply.type === 'command.ok' ? 'Sent.' : `Not sent: ${reply.message}`;
    });
  });
  return form;
}

$('hangup').addEventListener('click', () => {
  const callSid = state.selected;
  if (!callSid || !confirm('Hang up this call?')) return;
  send({ type: 'call.hangup', callSid }, (reply) => {
    if (reply.type === 'command.error') alert(`Could not hang up: ${reply.message}`);
  });
});

setInterval(() => {
  for (const call of state.calls.values()) if (!call.endedAt) renderCallItem(call);
  if (state.selected) renderHeader();
}, 1000);

// ---- configuration --------------------------------------------------------------------------

function fillConfig(config) {
  $('engine').replaceChildren(
    ...(config.availableEngines ?? ['realtime']).map((e) => el('option', { value: e, textContent: ENGINE_NAMES[e] ?? e, selected: e === config.engine })),
  );
  $('instructions').value = config.instructions;
  $('voice').replaceChildren(...config.availableVoices.map((v) => el('option', { value: v, textContent: v, selected: v === config.voice })));
  $('tools').replaceChildren(
    ...config.availableTools.map((name) => {
      const id = `tool-${name}`;
      const box = el('input', { type: 'checkbox', id, value: name, checked: config.enabledTools.includes(name) });
      return el('label', { htmlFor: id }, box, ` ${name}`);
    }),
  );
  $('turn-detection').value = config.turnDetection.type;
  $('vad-threshold').value = config.turnDetection.threshold ?? '';
  $('vad-threshold').disabled = config.turnDetection.type !== 'server_vad';
}

$('turn-detection').addEventListener('change', () => {
  $('vad-threshold').disabled = $('turn-detection').value !== 'server_vad';
});

function readConfig() {
  const type = $('turn-detection').value;
  const threshold = $('vad-threshold').value;
  return {
    engine: $('engine').value,
    instructions: $('instructions').value,
    voice: $('voice').value,
    enabledTools: [...$('tools').querySelectorAll('input:checked')].map((box) => box.value),
    turnDetection: type === 'server_vad' && threshold !== '' ? { type, threshold: Number(threshold) } : { type },
  };
}

function configStatus(text) {
  $('config-status').textContent = text;
}

$('config-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  configStatus('Saving…');
  let res;
  try {
    res = await fetch('/session-config', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify(readConfig()),
    });
  } catch {
    return configStatus('Not saved: server unreachable.');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const reasons = Array.isArray(body.message) ? body.message.join('; ') : (body.message ?? `HTTP ${res.status}`);
    return configStatus(`Not saved: ${reasons}`);
  }
  fillConfig(body);
  configStatus('Saved. Calls that start from now on use it.');
});

$('apply-live').addEventListener('click', () => {
  const callSid = state.selected;
  if (!callSid) return;
  // The voice and the engine are left out: a running call keeps them.
  const { voice: _voice, engine: _engine, ...config } = readConfig();
  configStatus('Applying…');
  send({ type: 'config.update', callSid, config }, (reply) => {
    configStatus(reply.type === 'command.ok' ? 'Applied to the selected call (voice unchanged).' : `Not applied: ${reply.message}`);
  });
});

// ---- health ---------------------------------------------------------------------------------

/**
 * The pill reads the checks, not just the status code: `degraded` answers 200 too (a refused
 * OpenAI key, unsafe settings), and a 503 has a reason worth showing (missing variables, capacity…).
 */
async function refreshHealth() {
  let res;
  let body;
  try {
    res = await fetch('/health', { headers: authHeaders() });
    body = await res.json();
  } catch {
    return setHealth('bad', 'unreachable', 'The server does not answer.');
  }
  if (res.status === 401) return setHealth('unknown', 'sign in to see', '');
  const calls = body.details?.calls;
  const load = calls ? ` · ${calls.active} / ${calls.capacity} calls` : '';
  const reasons = healthReasons(body);
  if (body.status === 'ok') return setHealth('ok', `ok${load}`, '');
  if (body.status === 'degraded') return setHealth('warn', `degraded${load}`, reasons.join(' · '));
  setHealth('bad', body.status === 'shutting_down' ? 'shutting down' : 'not ready', reasons.join(' · ') || `HTTP ${res.status}`);
}

/** One sentence per failing or degraded check, each naming what to do where the server says so. */
function healthReasons(body) {
  const checks = { ...body.info, ...body.error };
  const reasons = [];
  if (checks.config?.missing?.length) reasons.push(`missing configuration: set ${checks.config.missing.join(', ')}`);
  if (checks.model?.status === 'degraded') reasons.push(checks.model.problem?.message ?? 'the model could not be reached');
  for (const warning of checks.warnings?.warnings ?? []) reasons.push(warning);
  if (checks.calls?.status === 'down') reasons.push(`at capacity (${checks.calls.active + checks.calls.reserved} / ${checks.calls.capacity} calls)`);
  if (checks.drain?.status === 'down') reasons.push('draining for shutdown');
  if (checks.eventLoop?.status === 'down') reasons.push(`event loop stalled (${checks.eventLoop.delayMaxMs} ms)`);
  if (checks.heap?.status === 'down') reasons.push('heap over its limit');
  return reasons;
}

function setHealth(level, summary, reason) {
  const pill = $('health');
  pill.dataset.level = level;
  pill.textContent = `Health: ${summary}${reason ? ` — ${reason}` : ''}`;
  pill.title = reason;
}

refreshHealth();
setInterval(refreshHealth, 5000);
start();
