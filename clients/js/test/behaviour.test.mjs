// Channel-level behaviour: auto fallback, Retry-After, idempotent publish retries, tokens, the
// script served by the hub.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startHub, open, until, topic } from './hubs.mjs';

describe('auto', () => {
  it('uses WebSocket where the hub takes it', async () => {
    const hub = await startHub();
    const c = open(hub.url, 'auto');
    try {
      await until('open', () => c.state == 'open');
      assert.equal(c.transport, 'ws');
    } finally {
      c.close();
      await hub.close();
    }
  });

  it('falls back to SSE when WebSocket is refused, and still gets and sends everything', async () => {
    const hub = await startHub({ websocket: false });
    const c = open(hub.url, 'auto');
    try {
      const t = topic('fallback');
      const got = [];
      c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
      const early = c.publish(t, 'sent while auto decides');
      await until('open', () => c.state == 'open');
      assert.equal(c.transport, 'sse');
      await early;
      await c.publish(t, 'after');
      await hub.publish(t, 'from elsewhere');
      await until('3 messages', () => got.length >= 3);
      assert.deepEqual(got, ['sent while auto decides', 'after', 'from elsewhere']);
    } finally {
      c.close();
      await hub.close();
    }
  });

  it('forced onto ws, a handshake refused with 403 closes the channel with the error', async () => {
    const hub = await startHub({ websocket: false });
    const c = open(hub.url, 'ws');
    try {
      await until('closed', () => c.state == 'closed');
      assert.equal(c.error.status, 403);
      await assert.rejects(c.publish('t', 'x'), (e) => e.status == 403);
    } finally {
      c.close();
      await hub.close();
    }
  });

  it('keeps trying while the hub is down, then connects', async () => {
    const hub = await startHub();
    await hub.stop();
    const c = open(hub.url, 'auto');
    try {
      const t = topic('late');
      const got = [];
      c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
      await hub.publish(t, 'published before the hub was up');
      await hub.start();
      await until('the message arrived', () => got.length >= 1);
      assert.deepEqual(got, ['published before the hub was up']);
      assert.equal(c.state, 'open');
    } finally {
      c.close();
      await hub.close();
    }
  });
});

describe('sse idle timeout', () => {
  it('a stream silent for longer than idle is reconnected, resuming with nothing lost or repeated', async () => {
    const hub = await startHub();
    const t = topic('idle');
    const path = '/topics/' + t + '/events';
    await hub.faults(path, 0); // only records the requests
    const c = open(hub.url, 'sse', { idle: 500 });
    try {
      const got = [];
      c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
      await hub.publish(t, 'one');
      await until('one', () => got.length == 1);
      await until('two more streams after silences', async () => (await hub.requests(path)).length >= 3);
      await hub.publish(t, 'two');
      await until('two', () => got.length == 2);
      assert.deepEqual(got, ['one', 'two']);
    } finally {
      c.close();
      await hub.close();
    }
  });
});

describe('sse stream that never answers', () => {
  it('a stream request unanswered for longer than idle is aborted and started again, nothing lost', async () => {
    const hub = await startHub();
    const t = topic('unanswered');
    let hung = 0;
    let aborted = 0;
    // The first event-stream request goes to a "dead connection": no answer until aborted.
    const fetchOnce = (url, init) => {
      if (String(url).includes('/events') && hung++ == 0) {
        return new Promise((_, reject) => init.signal.addEventListener('abort', () => {
          aborted++;
          reject(new DOMException('aborted', 'AbortError'));
        }));
      }
      return fetch(url, init);
    };
    const c = open(hub.url, 'sse', { idle: 500, fetch: fetchOnce });
    try {
      const got = [];
      c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
      await hub.publish(t, 'sent while the first request hung');
      await until('the message arrived', () => got.length == 1);
      assert.deepEqual(got, ['sent while the first request hung']);
      assert.equal(aborted, 1, 'the unanswered request was aborted');
      assert.ok(hung >= 2, 'a second stream was started');
    } finally {
      c.close();
      await hub.close();
    }
  });
});

describe('retries', () => {
  let hub;
  before(async () => (hub = await startHub()));
  after(() => hub.close());

  for (const transport of ['sse', 'longpoll']) {
    it(transport + ': a publish answered 503 is retried after Retry-After with the same Idempotency-Key, stored once', async () => {
      const t = topic('retry');
      const path = '/topics/' + t + '/messages';
      await hub.faults(path, 1);
      const c = open(hub.url, transport);
      try {
        const ack = await c.publish(t, 'once');
        const seen = (await hub.requests(path)).map((s) => s.split(' '));
        assert.equal(seen.length, 2);
        assert.equal(seen[0][1], seen[1][1], 'both attempts carry the same key');
        assert.ok(seen[0][1].length >= 16);
        assert.ok(seen[1][0] - seen[0][0] >= 950, 'the retry waited for Retry-After: 1');
        assert.deepEqual(await hub.history(t), [ack.id]);
      } finally {
        c.close();
      }
    });

    it(transport + ': publishing again with the same idempotencyKey returns the first id and stores nothing new', async () => {
      const t = topic('idem');
      const c = open(hub.url, transport);
      try {
        const a = await c.publish(t, { v: 1 }, { idempotencyKey: 'key-' + t });
        const b = await c.publish(t, { v: 1 }, { idempotencyKey: 'key-' + t });
        assert.equal(b.id, a.id);
        assert.deepEqual(await hub.history(t), [a.id]);
        await assert.rejects(c.publish(t, { v: 2 }, { idempotencyKey: 'key-' + t }), (e) => e.status == 422);
      } finally {
        c.close();
      }
    });
  }

  it('sse: a stream answered 503 reconnects no sooner than Retry-After, then delivers', async () => {
    const t = topic('streamretry');
    const path = '/topics/' + t + '/events';
    await hub.faults(path, 1);
    const anchor = await hub.publish(t, 'anchor');
    await hub.publish(t, 'one');
    const c = open(hub.url, 'sse');
    try {
      const got = [];
      c.subscribe(t, (m) => got.push(m.data), { after: anchor });
      await until('delivered', () => got.length == 1);
      const seen = (await hub.requests(path)).map((s) => +s.split(' ')[0]);
      assert.equal(seen.length, 2);
      assert.ok(seen[1] - seen[0] >= 950, 'waited for Retry-After: 1, not the 100 ms backoff');
    } finally {
      c.close();
    }
  });
});

describe('tokens', () => {
  let hub;
  before(async () => (hub = await startHub({ token: 'good' })));
  after(() => hub.close());

  for (const transport of ['ws', 'sse', 'longpoll']) {
    it(transport + ': getToken is called again for every reconnect', async () => {
      let calls = 0;
      const c = open(hub.url, transport, { getToken: async () => (calls++, 'good') });
      try {
        const t = topic('token');
        const got = [];
        c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
        await c.publish(t, 'one');
        await until('one', () => got.length == 1);
        const before = calls;
        await hub.stop();
        await hub.publish(t, 'two');
        await hub.start();
        await until('two', () => got.length == 2);
        assert.ok(calls > before, 'getToken called again after the restart (' + before + ' → ' + calls + ')');
      } finally {
        c.close();
      }
    });

    it(transport + ': a refused token is reported, not retried forever', async () => {
      const c = open(hub.url, transport, { token: 'bad' });
      try {
        const errors = [];
        c.subscribe(topic('refused'), () => {}, { onError: (e) => errors.push(e) });
        await until('the refusal is reported', () => errors.length);
        assert.equal(errors[0].status, 401);
        await assert.rejects(c.publish(topic('refused'), 'x'), (e) => e.status == 401);
      } finally {
        c.close();
      }
    });
  }

  it('ws: a token refused with HTTP 401 before the upgrade closes the channel with the error', async () => {
    const strict = await startHub({ token: 'good', wsAuth: 'http' });
    const c = open(strict.url, 'ws', { token: 'bad' });
    try {
      const errors = [];
      c.subscribe(topic('refused'), () => {}, { onError: (e) => errors.push(e) });
      await until('the refusal is reported', () => errors.length);
      assert.equal(errors[0].status, 401);
      assert.equal(c.state, 'closed');
      assert.equal(c.error.status, 401);
      const ok = open(strict.url, 'ws', { token: 'good' });
      await until('a good token opens', () => ok.state == 'open');
      ok.close();
    } finally {
      c.close();
      await strict.close();
    }
  });

  it('auto: a refused token is reported, not hidden by a fallback', async () => {
    const c = open(hub.url, 'auto', { token: 'bad' });
    try {
      const errors = [];
      c.subscribe(topic('refused'), () => {}, { onError: (e) => errors.push(e) });
      await until('the refusal is reported', () => errors.length);
      assert.equal(errors[0].status, 401);
    } finally {
      c.close();
    }
  });
});

describe('served by the hub', () => {
  it('GET /v1/client.js is this module, with an ETag; /v1/client.d.ts its declarations', async () => {
    const hub = await startHub();
    try {
      const r = await fetch(hub.url + '/v1/client.js');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /^text\/javascript/);
      assert.equal(await r.text(), await readFile(new URL('../client.js', import.meta.url), 'utf8'));
      const again = await fetch(hub.url + '/v1/client.js', { headers: { 'if-none-match': r.headers.get('etag') } });
      assert.equal(again.status, 304);
      const d = await fetch(hub.url + '/v1/client.d.ts');
      assert.equal(await d.text(), await readFile(new URL('../client.d.ts', import.meta.url), 'utf8'));
      const mod = await import('data:text/javascript;base64,'
        + Buffer.from(await (await fetch(hub.url + '/v1/client.js')).text()).toString('base64'));
      assert.equal(typeof mod.connect, 'function');
    } finally {
      await hub.close();
    }
  });
});
