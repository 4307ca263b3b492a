// The browser's 'online' event makes a channel waiting out a long backoff reconnect at once.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, open, until, topic } from './hubs.mjs';

it('an online event reconnects at once instead of waiting out the backoff', async () => {
  // A browser-like global event target, and jitter pinned near its ceiling: every backoff is ~60 s.
  const events = new EventTarget();
  globalThis.addEventListener = events.addEventListener.bind(events);
  globalThis.removeEventListener = events.removeEventListener.bind(events);
  const random = Math.random;
  Math.random = () => 0.999;
  const hub = await startHub();
  const c = open(hub.url, 'ws', { reconnect: { initial: 60000, max: 60000 } });
  try {
    const t = topic('online');
    const got = [];
    c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
    await until('open', () => c.state == 'open');
    await hub.stop();
    await until('reconnecting', () => c.state == 'reconnecting');
    await hub.publish(t, 'while offline');
    await hub.start();
    events.dispatchEvent(new Event('online'));
    await until('reconnected and resumed (the backoff alone would take ~60 s)', () => got.length == 1, 20);
    assert.deepEqual(got, ['while offline']);
  } finally {
    c.close();
    Math.random = random;
    await hub.close();
  }
});
