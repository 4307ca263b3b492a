// @switchboard/client: the browser and Node client of a Switchboard hub (wire protocol /v1).
// One ES module, no dependencies. Same semantics as the Java Channel: auto fallback ws → sse →
// longpoll, reconnect with exponential backoff and full jitter, every subscription resumed exactly
// after its last id, history gaps reported to onReset, Retry-After honoured, safe publish retries.

const TRANSPORTS = ['ws', 'sse', 'longpoll'];
const TEXT = 'text/plain; charset=utf-8';
const RETRYABLE = [429, 502, 503, 504];
const enc = encodeURIComponent;

/** An error from the hub or the connection: HTTP-like status, short code, Retry-After in ms. */
export class SwitchboardError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.name = 'SwitchboardError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const fail = (status, code, message, retryAfter) => new SwitchboardError(status, code, message, retryAfter);
const unavailable = (message) => fail(503, 'unavailable', message);
const asError = (e) => (e instanceof SwitchboardError ? e : unavailable(String((e && e.message) || e)));

function report(e) {
  typeof reportError == 'function' ? reportError(e) : console.error(e);
}

function call(f, ...args) {
  if (f) {
    try {
      f(...args);
    } catch (e) {
      report(e);
    }
  }
}

function isJson(ct) {
  const m = ct.split(';')[0].trim().toLowerCase();
  return m == 'application/json' || m.endsWith('+json');
}

function fromBase64(s) {
  const b = atob(s);
  const u = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
  return u;
}

function toBase64(u) {
  let s = '';
  for (let i = 0; i < u.length; i += 32768) s += String.fromCharCode.apply(null, u.subarray(i, i + 32768));
  return btoa(s);
}

/** The payload as the application sees it: JSON parsed, text as a string, anything else as bytes. */
function payload(ct, data, base64, parse) {
  const json = isJson(ct);
  if (base64) {
    data = fromBase64(data);
    if (!json && !/^text\//i.test(ct)) return data;
    data = new TextDecoder().decode(data);
    parse = 1;
  }
  if (parse && json && data !== '') {
    try {
      return JSON.parse(data);
    } catch (e) {
      // not ours to fix: delivered as the text it is
    }
  }
  return data;
}

/** A {@code <msg>} of the wire protocol (WebSocket frame or long-poll page) as a message. */
const message = (m) => ({
  id: m.id, topic: m.topic, event: m.event, contentType: m.contentType,
  data: payload(m.contentType, m.data, m.encoding == 'base64'), time: m.time,
});

/** [body, contentType, kind]: kind 1 = bytes, 2 = JSON text to embed raw, 0 = plain text. */
function body(data, ct) {
  if (data === undefined) throw new TypeError('publish: data is required');
  if (data instanceof ArrayBuffer) data = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof Uint8Array) return [data, ct || 'application/octet-stream', 1];
  if (typeof data == 'string') return [data, ct || TEXT, ct && isJson(ct) ? 2 : 0];
  return [JSON.stringify(data), ct || 'application/json', 2];
}

function newKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join('');
}

function retryAfter(r) {
  const v = r.headers.get('retry-after');
  if (!v) return;
  const ms = isNaN(v) ? Date.parse(v) - Date.now() : v * 1000;
  return isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), 3600000);
}

async function httpError(r) {
  let b = {};
  try {
    b = await r.json();
  } catch (e) {
    // not a JSON error body (a proxy's page, say)
  }
  return fail(r.status, b.error || 'http_' + r.status, b.message || 'HTTP ' + r.status, retryAfter(r));
}

/**
 * Opens a channel to a hub. Options: url (required), transport ('auto' by default, or 'ws', 'sse',
 * 'longpoll'), token or getToken() (may return a Promise; called before every connection and
 * request), reconnect {initial: 250, max: 30000} (ms), publishAttempts (4 retries), wait (long-poll
 * seconds, 25), idle (ms an SSE stream may be silent, or its request unanswered, before it is
 * reconnected, 45000; 0: never), and
 * for Node or tests the constructors WebSocket and fetch.
 */
export function connect(options) {
  return new Channel(options);
}

class Channel {
  constructor(o) {
    if (!o || !o.url) throw new TypeError('connect: url is required');
    const t = o.transport || 'auto';
    if (t != 'auto' && !TRANSPORTS.includes(t)) {
      throw new TypeError("connect: transport must be 'auto', 'ws', 'sse' or 'longpoll', not '" + t + "'");
    }
    this._WS = o.WebSocket || globalThis.WebSocket;
    if (t == 'ws' && !this._WS) throw new TypeError('connect: no WebSocket here; pass options.WebSocket');
    this.url = String(o.url).replace(/\/+$/, '');
    this._o = o;
    this._fetch = o.fetch || ((...a) => fetch(...a));
    this._list = t == 'auto' ? TRANSPORTS.filter((x) => x != 'ws' || this._WS) : [t];
    this._i = 0;
    this._cycle = this._backoff();
    this._subs = new Map();
    this._q = [];
    this._timers = new Set();
    this._on = {};
    this.state = 'connecting';
    this.transport = null;
    this.error = null;
    this._online = () => this._kick();
    globalThis.addEventListener && addEventListener('online', this._online);
    this._start();
  }

  /** Listens to 'state' (state, error) or to one state by name (error); returns the remover. */
  on(type, f) {
    (this._on[type] ||= new Set()).add(f);
    return () => this._on[type].delete(f);
  }

  subscribe(topic, onMessage, o = {}) {
    if (this.state == 'closed') throw new Error('channel is closed');
    if (this._subs.has(topic)) throw new Error('this channel is already subscribed to topic ' + topic);
    const s = new Subscription(this, topic, onMessage, o);
    this._subs.set(topic, s);
    this._d && this._d.sub(s);
    return s;
  }

  publish(topic, data, o = {}) {
    return new Promise((resolve, reject) => {
      if (this.state == 'closed') return reject(this.error || fail(503, 'closed', 'channel is closed'));
      const p = { topic, o, resolve, reject };
      try {
        [p.body, p.ct, p.kind] = body(data, o.contentType);
      } catch (e) {
        return reject(e);
      }
      this._d && this._d.ready ? this._d.pub(p) : this._q.push(p);
    });
  }

  close() {
    this._close();
  }

  _close(e) {
    if (this.state == 'closed') return;
    const subs = [...this._subs.values()];
    this._subs.clear();
    this._set('closed', e);
    this._d && this._d.stop();
    this._d = null;
    this._kick();
    globalThis.removeEventListener && removeEventListener('online', this._online);
    for (const p of this._q.splice(0)) p.reject(e || fail(503, 'closed', 'channel is closed'));
    for (const s of subs) s._end(e);
  }

  _set(state, e) {
    if (this.state == state || this.state == 'closed') return;
    this.state = state;
    this.error = e || null;
    for (const t of ['state', state]) for (const f of this._on[t] || []) call(f, ...(t == 'state' ? [state, e] : [e]));
  }

  _backoff() {
    const r = this._o.reconnect || {};
    const initial = r.initial || 250;
    const max = r.max || 30000;
    let n = 0;
    const delay = (k) => Math.random() * Math.min(max, initial * 2 ** Math.min(k, 30));
    return { delay, next: (hint) => Math.max(delay(n++), hint || 0), reset: () => (n = 0) };
  }

  /** Waits, unless the channel closes or the browser comes back online first. */
  _sleep(ms) {
    return new Promise((res) => {
      const t = { res, id: setTimeout(() => this._timers.delete(t) && res(), ms) };
      this._timers.add(t);
    });
  }

  _kick() {
    for (const t of this._timers) clearTimeout(t.id), t.res();
    this._timers.clear();
  }

  async _headers() {
    const t = await (this._o.getToken ? this._o.getToken() : this._o.token);
    return t ? { authorization: 'Bearer ' + t } : {};
  }

  _start() {
    if (this.state == 'closed') return;
    const t = (this.transport = this._list[this._i]);
    this._d = t == 'ws' ? new Ws(this) : new Http(this, t == 'sse');
    this._d.start();
    this._d.ready && this._flush();
  }

  _flush() {
    for (const p of this._q.splice(0)) this._d.pub(p);
  }

  _opened(d) {
    if (d != this._d) return;
    this._locked = 1;
    this._cycle.reset();
    this._set('open');
    this._flush();
  }

  /** The transport being tried failed before it ever opened: auto tries the next one. */
  _refused(d, e) {
    if (d != this._d || this._locked || this._list.length < 2 || this.state == 'closed') return false;
    this.error = e;
    d.stop();
    this._d = null;
    this._i = (this._i + 1) % this._list.length;
    this._i ? this._start() : this._sleep(this._cycle.next(e.retryAfter)).then(() => this._start());
    return true;
  }
}

class Subscription {
  constructor(ch, topic, f, o) {
    this.topic = topic;
    this.lastId = o.after || null;
    this.active = true;
    this._ch = ch;
    this._f = f;
    this._o = o;
  }

  unsubscribe() {
    if (!this.active) return;
    this._end();
    this._ch._d && this._ch._d.unsub(this);
  }

  _end(e) {
    this.active = false;
    this._ch._subs.get(this.topic) == this && this._ch._subs.delete(this.topic);
    e && call(this._o.onError, e);
  }

  _msg(m) {
    // (a repeat of the last id, at a reconnect's seam, is dropped, as the Java client does)
    if (this.active && m.id != this.lastId) {
      this.lastId = m.id;
      call(this._f, m);
    }
  }

  _reset(reason) {
    this.active && call(this._o.onReset, reason || 'history_gap');
  }
}

/** One WebSocket for everything: subscribe/publish frames, acks, resubscribe after each reconnect. */
class Ws {
  constructor(ch) {
    this.ch = ch;
    this.retry = ch._backoff();
    this.pend = new Map();
    this.ref = 0;
  }

  async start() {
    const ch = this.ch;
    let ws, status;
    try {
      const h = await ch._headers();
      if (this.stopped) return;
      const q = h.authorization ? '?access_token=' + enc(h.authorization.slice(7)) : '';
      ws = this.ws = new ch._WS(ch.url.replace(/^http/i, 'ws') + '/v1/ws' + q, 'switchboard.v1.json');
    } catch (e) {
      return this.lost(1006, String(e.message || e));
    }
    ws.onopen = () => {
      this.ready = true;
      this.retry.reset();
      for (const s of ch._subs.values()) this.sub(s);
      ch._opened(this);
    };
    ws.onmessage = (e) => this.frame(e.data);
    // Browsers hide why a handshake failed; Node's ws says "Unexpected server response: 401".
    ws.onerror = (e) => (status = +(/response: (\d+)/.exec((e && e.message) || '') || [])[1] || status);
    ws.onclose = (e) => this.ws == ws && this.lost(e.code, e.reason || '', status);
  }

  lost(code, reason, status) {
    const ch = this.ch;
    this.ws = null;
    this.ready = false;
    this.drop(unavailable('connection lost before the hub acknowledged the publish (it may or may not be stored)'));
    if (this.stopped) return;
    const e =
      // 4401/4403: the hub's private close codes for 401/403; 1008: an older hub's refusal.
      status == 401 || code == 4401
        ? fail(401, 'unauthenticated', reason || 'WebSocket handshake refused with HTTP 401')
        : status == 403 || code == 4403 || code == 1008
          ? fail(403, 'forbidden', reason || 'WebSocket handshake refused with HTTP 403')
          : fail(status || 503, 'unavailable', 'WebSocket closed (' + code + (reason ? ' ' + reason : '') + ')');
    if (e.status != 401 && ch._refused(this, e)) return;
    if (e.status == 401 || e.status == 403) return ch._close(e);
    ch.error = e;
    ch._locked && ch._set('reconnecting', e);
    ch._sleep(this.retry.next()).then(() => this.stopped || this.start());
  }

  drop(e) {
    for (const p of this.pend.values()) p.reject(e);
    this.pend.clear();
  }

  stop() {
    this.stopped = true;
    this.drop(fail(503, 'closed', 'channel is closed'));
    if (this.ws) {
      this.ws.onclose = this.ws.onopen = this.ws.onmessage = null;
      this.ws.onerror = () => {}; // Node's ws reports closing a socket still connecting as an error
      try {
        this.ws.close(1000);
      } catch (e) {
        // already closing
      }
    }
  }

  send(f) {
    this.ws.send(typeof f == 'string' ? f : JSON.stringify(f));
  }

  sub(s) {
    this.ready && this.send({ op: 'subscribe', topic: s.topic, after: s.lastId || undefined, ref: 's:' + s.topic });
  }

  unsub(s) {
    this.ready && this.send({ op: 'unsubscribe', topic: s.topic });
  }

  pub(p) {
    if (p.kind == 2) {
      try {
        JSON.parse(p.body); // embedded as it is: the frame must stay valid JSON
      } catch (e) {
        return p.reject(fail(400, 'invalid_json', 'payload declared JSON is not valid JSON: ' + e.message));
      }
    }
    const ref = 'p' + ++this.ref;
    let f = { op: 'publish', topic: p.topic, event: p.o.event, contentType: p.ct, ref };
    if (p.kind == 1) f.encoding = 'base64', f.data = toBase64(p.body);
    else if (!p.kind) f.data = p.body;
    f = JSON.stringify(f);
    if (p.kind == 2) f = f.slice(0, -1) + ',"data":' + p.body + '}';
    this.pend.set(ref, p);
    try {
      this.send(f);
    } catch (e) {
      this.pend.delete(ref);
      p.reject(asError(e));
    }
  }

  frame(text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch (e) {
      return;
    }
    const s = this.ch._subs.get(f.topic);
    const p = this.pend.get(f.ref);
    const op = f.op;
    if (op == 'message') s && s._msg(message(f));
    else if (op == 'reset') s && s._reset(f.reason);
    else if (op == 'subscribed') s && call(s._o.onSubscribed, { recovered: f.recovered });
    else if (p && (op == 'ack' || op == 'error')) {
      this.pend.delete(f.ref);
      op == 'ack' ? p.resolve({ id: f.id, topic: p.topic, time: f.time }) : p.reject(fail(f.status, f.error, f.message));
    } else if (op == 'error' && /^s:/.test(f.ref)) {
      const r = this.ch._subs.get(f.ref.slice(2));
      r && r._end(fail(f.status, f.error, f.message));
    }
  }
}

/** SSE (a fetch-streamed event stream per subscription) or long polling; publishing by POST. */
class Http {
  constructor(ch, sse) {
    this.ch = ch;
    this.sse = sse;
    this.ready = true;
    this.st = new Map();
    this.down = new Set();
  }

  start() {
    for (const s of this.ch._subs.values()) this.sub(s);
    this.st.size || this.ch._opened(this);
  }

  stop() {
    for (const s of [...this.st.keys()]) this.unsub(s);
  }

  sub(s) {
    const st = { s, retry: this.ch._backoff(), cur: s.lastId, pos: s.lastId != null, resets: 0 };
    this.st.set(s, st);
    this.loop(st);
  }

  unsub(s) {
    const st = this.st.get(s);
    if (st) {
      this.st.delete(s);
      st.ctl && st.ctl.abort();
      this.mark(st, 1);
    }
  }

  mark(st, up) {
    up ? this.down.delete(st) : this.down.add(st);
    st.on = up && st.on;
    const ch = this.ch;
    ch._locked && ch._d == this && ch._set(this.down.size ? 'reconnecting' : 'open');
  }

  up(st) {
    st.retry.reset();
    this.mark(st, 1);
    this.ch._locked || this.ch._opened(this);
    st.on || call(st.s._o.onSubscribed, {});
    st.on = 1;
  }

  live(st) {
    return this.st.get(st.s) == st && this.ch.state != 'closed';
  }

  async loop(st) {
    const ch = this.ch;
    while (this.live(st)) {
      let wait;
      try {
        const h = await ch._headers();
        if (!this.live(st)) return;
        st.ctl = new AbortController();
        wait = await (this.sse ? this.events(st, h) : this.poll(st, h));
      } catch (x) {
        if (!this.live(st) || ch._d != this) return;
        const e = asError(x);
        if (!RETRYABLE.includes(e.status)) {
          // A refusal (401, 403, 400 invalid_id, 404 from a proxy): auto tries the next transport
          // unless it is about credentials; otherwise the subscription ends with the error.
          if (e.status != 401 && e.status != 403 && ch._refused(this, e)) return;
          this.unsub(st.s);
          st.s._end(e);
          return ch._locked || ch._opened(this);
        }
        if (ch._refused(this, e)) return;
        ch.error = e;
        this.mark(st, 0);
        wait = st.retry.next(e.retryAfter);
      }
      wait != null && (await ch._sleep(wait));
    }
  }

  async get(st, path, h) {
    const ch = this.ch;
    const r = await ch._fetch(ch.url + '/v1/topics/' + enc(st.s.topic) + path, {
      headers: h,
      signal: st.ctl.signal,
      cache: 'no-store',
    });
    if (r.status != 200 && r.status != 204) throw await httpError(r);
    return r;
  }

  /** One event stream until it ends; returns how long to wait before the next one. */
  async events(st, h) {
    const s = st.s;
    h.accept = 'text/event-stream';
    // A stream whose answer does not start within `idle` ms went to a dead connection, as one silent
    // for that long did: start again.
    const idle = this.ch._o.idle ?? 45000;
    let timer = idle && setTimeout(() => st.ctl.abort(), idle);
    const r = await this.get(st, '/events' + (s.lastId ? '?lastEventId=' + enc(s.lastId) : ''), h)
      .finally(() => clearTimeout(timer));
    if (!/^text\/event-stream/i.test(r.headers.get('content-type'))) {
      throw fail(502, 'not_event_stream', 'the hub answered the event stream with ' + r.headers.get('content-type'));
    }
    this.up(st);
    const rd = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let data = [];
    let type = '';
    let f = {};
    for (;;) {
      // The hub writes a heartbeat at least every 15 s: a stream silent for `idle` ms is dead.
      clearTimeout(timer);
      if (idle) timer = setTimeout(() => st.ctl.abort(), idle);
      const { value, done } = await rd.read().finally(() => clearTimeout(timer));
      if (done) break;
      buf += dec.decode(value, { stream: true });
      const lines = buf.split(/\r\n|\r(?!$)|\n/);
      buf = lines.pop();
      for (const line of lines) {
        if (!line) {
          if (data.length) {
            const d = data.join('\n');
            const ct = f['content-type'] || TEXT;
            if (type == 'reset') {
              s._reset(payload('application/json', d, 0, 1).reason);
            } else {
              s._msg({ id: f.id, topic: s.topic, event: type || undefined, contentType: ct,
                data: payload(ct, d, f.encoding == 'base64', 1) });
            }
          }
          data = [];
          type = '';
          f = { id: f.id };
          continue;
        }
        const c = line.indexOf(':');
        if (!c) continue;
        const name = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? '' : line.slice(c + 1);
        if (v[0] == ' ') v = v.slice(1);
        if (name == 'data') data.push(v);
        else if (name == 'event') type = v;
        else if (name == 'retry') /^\d+$/.test(v) && (st.hint = Math.min(+v, 3600000));
        else f[name] = v;
      }
    }
    // The hub ended the stream (shutdown, slow consumer): reconnect after its retry: hint.
    this.mark(st, 0);
    return st.retry.next(st.hint);
  }

  /** One long poll (or, first, the cursor of a live-only subscription); returns a wait or nothing. */
  async poll(st, h) {
    const s = st.s;
    const wait = this.ch._o.wait || 25;
    const q = st.pos ? (st.cur ? 'after=' + enc(st.cur) + '&' : '') + 'wait=' + wait : 'limit=0';
    // A poll the hub does not answer well after its wait went to a dead connection: start again.
    const timer = setTimeout(() => st.ctl.abort(), (wait + 15) * 1000);
    const r = await this.get(st, '/messages?' + q, h).finally(() => clearTimeout(timer));
    this.up(st);
    if (r.status == 204) return;
    const page = await r.json();
    const reset = st.pos && st.cur && page.recovered === false;
    if (st.pos) {
      reset && s._reset('history_gap');
      for (const m of page.messages) this.live(st) && s._msg(message(m));
    }
    st.pos = true;
    st.cur = page.next;
    // After a reset, poll again at the backoff's pace, never in a spin (the Java client does the same).
    st.resets = reset ? st.resets + 1 : 0;
    if (reset) return st.retry.delay(st.resets - 1);
  }

  async pub(p) {
    const ch = this.ch;
    const o = p.o;
    const key = o.idempotencyKey || newKey();
    const retry = ch._backoff();
    for (let n = 0; ; n++) {
      let e;
      try {
        const h = await ch._headers();
        h['content-type'] = p.ct;
        h['idempotency-key'] = key;
        const r = await ch._fetch(ch.url + '/v1/topics/' + enc(p.topic) + '/messages' + (o.event ? '?event=' + enc(o.event) : ''), {
          method: 'POST',
          headers: h,
          body: p.body,
        });
        if (r.status == 201 || r.status == 200) return p.resolve(await r.json());
        e = await httpError(r);
      } catch (x) {
        e = asError(x);
      }
      // The Idempotency-Key makes every retry safe: the hub stores the message once.
      if (!RETRYABLE.includes(e.status) || n >= (o.attempts ?? ch._o.publishAttempts ?? 4) || ch.state == 'closed') {
        return p.reject(e);
      }
      await ch._sleep(retry.next(e.retryAfter));
    }
  }
}
