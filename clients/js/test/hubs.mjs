// Test support: real hubs from the Java side's control API (SWITCHBOARD_TEST_CONTROL, set by
// NodeClientTest), and small waiting helpers. No fixed sleeps: every wait has a deadline.
import WebSocket from 'ws';
import { connect } from '../client.js';

const CONTROL = process.env.SWITCHBOARD_TEST_CONTROL;
if (!CONTROL) {
  throw new Error('SWITCHBOARD_TEST_CONTROL is not set: run these tests through NodeClientTest '
    + '(mvn -pl clients/js -am verify), which starts the hubs');
}

async function control(path, init) {
  const r = await fetch(CONTROL + path, init);
  const body = await r.json();
  if (r.status != 200) throw new Error('control ' + path + ': ' + JSON.stringify(body));
  return body;
}

/** A real hub: {url, stop(), start(), publish(topic, text), history(topic), faults(path, n), requests(path), close()}. */
export async function startHub(options = {}) {
  const q = new URLSearchParams(options).toString();
  const { id, url } = await control('/hubs?' + q, { method: 'POST' });
  const post = (op, query = '', body) => control('/hubs/' + id + '/' + op + query, { method: 'POST', body });
  return {
    url,
    stop: () => post('stop'),
    start: () => post('start'),
    publish: async (topic, text) => (await post('publish', '?topic=' + topic, text)).id,
    history: (topic) => control('/hubs/' + id + '/history?topic=' + topic),
    faults: (path, count) => post('faults', '?path=' + encodeURIComponent(path) + '&count=' + count),
    requests: (path) => control('/hubs/' + id + '/requests?path=' + encodeURIComponent(path)),
    close: () => control('/hubs/' + id, { method: 'DELETE' }),
  };
}

/** A channel with Node's missing WebSocket injected and quick reconnects. */
export function open(url, transport, extra = {}) {
  return connect({ url, transport, WebSocket, reconnect: { initial: 100, max: 1000 }, ...extra });
}

/** Waits until condition() is truthy (polled), or fails naming what it waited for. */
export async function until(what, condition, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await condition();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting until ' + what);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let n = 0;
/** A topic name no other test uses. */
export const topic = (name) => name + '-' + process.pid + '-' + ++n;
