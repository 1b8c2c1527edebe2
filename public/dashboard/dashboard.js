// The operator's page. It reads the dashboard socket (/ws/logs, envelope v1: see the README) and
// the configuration API (/session-config). Plain DOM, no framework, no build step; everything
// that comes from a call (transcripts, arguments) is inserted as text, never as HTML.

const TOKEN_KEY = 'dashboardToken';
const MAX_ENDED_CALLS = 20;
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
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

/** Checks access through the API, which says why (401: token needed, 403: loopback only). */
async function start() {
  let res;
  try {
    res = await fetch('/session-config', { headers: authHeaders() });
  } catch {
    return retryLater('server unreachable');
  }
  if (res.status === 401) return askForToken(state.token ? 'That token was not accepted.' : 'This server needs the dashboard token (DASHBOARD_TOKEN).');
  if (res.status === 403)
    return block(
      'DASHBOARD_TOKEN is not set on the server, so the dashboard only works from the server itself (http://localhost). Set DASHBOARD_TOKEN to use it from elsewhere.',
    );
  if (!res.ok) return retryLater(`HTTP ${res.status}`);
  $('token-form').hidden = true;
  $('blocked').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = !state.token;
  // Fill the form once: a reconnect must not overwrite what the operator is typing.
  if (!state.configLoaded) {
    fillConfig(await res.json());
    state.configLoaded = true;
  }
  connect();
}

function askForToken(reason) {
  $('app').hidden = true;
  $('token-reason').textContent = reason;
  $('token-form').hidden = false;
  $('token').focus();
}

function block(message) {
  $('app').hidden = true;
  $('blocked').textContent = message;
  $('blocked').hidden = false;
}

function retryLater(why) {
  setLink(`offline (${why}), retrying…`);
  setTimeout(start, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10_000);
}

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
      call.modelStatus = 'closed';
      for (const fc of call.functionCalls.values()) if (fc.status === 'running') fc.status = 'abandoned';
      renderFunctions(call);
      pruneEnded();
      break;
    case 'model.status':
      call.modelStatus = msg.status;
      break;
    case 'transcript.delta': {
      const entry = transcriptEntry(call, msg.itemId, msg.role);
      entry.text += msg.delta;
      renderEntry(call, msg.itemId);
      break;
    }
    case 'transcript.done': {
      const entry = transcriptEntry(call, msg.itemId, msg.role);
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
      addNote(call, `Caller pressed ${msg.digit}`);
      break;
    case 'usage':
      call.tokens += msg.totalTokens;
      break;
    case 'cost':
      call.costUsd = msg.totalUsd;
      break;
    case 'error':
      addNote(call, `${msg.source} error: ${msg.message}`, true);
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
    modelStatus: info.modelStatus ?? 'connecting',
    /** Transcript lines and notes, in arrival order, by key (item id for speech). */
    entries: new Map(),
    functionCalls: new Map(),
    tokens: 0,
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
    for (const t of view.transcript) call.entries.set(t.itemId, { kind: 'speech', ...t });
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

function transcriptEntry(call, itemId, role) {
  let entry = call.entries.get(itemId);
  if (!entry) {
    entry = { kind: 'speech', itemId, role, text: '', final: false };
    call.entries.set(itemId, entry);
  }
  return entry;
}

function addNote(call, text, isError = false) {
  const key = `note-${call.notes++}`;
  call.entries.set(key, { kind: 'note', text, isError });
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

function callStatus(call) {
  if (call.endedAt) return `ended (${call.endReason})`;
  return `model ${call.modelStatus}`;
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
    el('span', { className: 'meta', textContent: `${duration(end - call.startedAt)} · ${callStatus(call)}` }),
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
    `${call.callSid} · ${call.direction ?? 'inbound'} to ${call.to ?? '?'} · ${duration(end - call.startedAt)}` +
    (call.tokens ? ` · ${call.tokens} tokens` : '') +
    costText(call.costUsd, Boolean(call.endedAt));
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
  if (entry.kind === 'note') {
    item.className = entry.isError ? 'note error' : 'note';
    item.textContent = entry.text;
  } else {
    item.className = `${entry.role}${entry.final ? '' : ' partial'}`;
    item.replaceChildren(
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
  // The voice is left out: it cannot change once the assistant has spoken.
  const { voice: _voice, ...config } = readConfig();
  configStatus('Applying…');
  send({ type: 'config.update', callSid, config }, (reply) => {
    configStatus(reply.type === 'command.ok' ? 'Applied to the selected call (voice unchanged).' : `Not applied: ${reply.message}`);
  });
});

// ---- health ---------------------------------------------------------------------------------

async function refreshHealth() {
  try {
    const res = await fetch('/health');
    const body = await res.json();
    const calls = body.details?.calls;
    const load = calls ? ` · ${calls.active} / ${calls.capacity} calls` : '';
    $('health').textContent = `Health: ${res.ok ? 'ok' : 'degraded'}${load}`;
  } catch {
    $('health').textContent = 'Health: unreachable';
  }
}

refreshHealth();
setInterval(refreshHealth, 5000);
start();
