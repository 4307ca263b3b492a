// The transport contract (as TransportContractTest in Java) over each transport of the JS client,
// against a real hub: order, exact resume, history gap → reset, publish acks and payload types,
// reconnect after the hub restarts with nothing lost or repeated.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, open, until, topic } from './hubs.mjs';

for (const transport of ['ws', 'sse', 'longpoll']) {
  describe('transport ' + transport, () => {
    let hub;
    let small; // keeps 5 messages per topic
    const channels = [];
    const channel = (url, extra) => {
      const c = open(url, transport, extra);
      channels.push(c);
      return c;
    };

    before(async () => {
      hub = await startHub();
      small = await startHub({ history: 5 });
    });
    after(async () => {
      channels.forEach((c) => c.close());
      await hub.close();
      await small.close();
    });

    it('delivers every message in publish order, and acks publishes with the stored id', async () => {
      const t = topic('order');
      const c = channel(hub.url);
      const anchor = await hub.publish(t, 'anchor');
      const got = [];
      const sub = c.subscribe(t, (m) => got.push(m), { after: anchor });
      const acks = [];
      for (let i = 0; i < 30; i++) acks.push(await c.publish(t, { n: i }));
      await until('30 messages arrived', () => got.length >= 30);
      assert.deepEqual(got.map((m) => m.data.n), [...Array(30).keys()]);
      assert.deepEqual(got.map((m) => m.id), acks.map((a) => a.id));
      assert.deepEqual((await hub.history(t)).slice(1), acks.map((a) => a.id));
      assert.ok(acks.every((a) => a.topic == t && typeof a.time == 'string' && !isNaN(Date.parse(a.time))), JSON.stringify(acks[0]));
      assert.equal(sub.lastId, acks[29].id);
      assert.equal(c.transport, transport);
      assert.equal(c.state, 'open');
    });

    it('resumes exactly after the given id', async () => {
      const t = topic('resume');
      const ids = [];
      for (let i = 0; i < 10; i++) ids.push(await hub.publish(t, 'm' + i));
      const got = [];
      const resets = [];
      const c = channel(hub.url);
      c.subscribe(t, (m) => got.push(m), { after: ids[4], onReset: (r) => resets.push(r) });
      await until('the 5 messages after the 5th arrived', () => got.length >= 5);
      ids.push(await hub.publish(t, 'm10'));
      await until('the live one arrived', () => got.length >= 6);
      assert.deepEqual(got.map((m) => m.id), ids.slice(5));
      assert.deepEqual(got.map((m) => m.data), ['m5', 'm6', 'm7', 'm8', 'm9', 'm10']);
      assert.deepEqual(resets, []);
    });

    it('reports a history gap to onReset, then delivers what history holds', async () => {
      const t = topic('gap');
      const ids = [];
      for (let i = 0; i < 10; i++) ids.push(await small.publish(t, 'm' + i));
      const got = [];
      const resets = [];
      const c = channel(small.url);
      c.subscribe(t, (m) => got.push(m.id), { after: ids[0], onReset: (r) => resets.push([r, got.length]) });
      await until('the 5 retained messages arrived', () => got.length >= 5);
      assert.deepEqual(resets, [['history_gap', 0]]);
      assert.deepEqual(got, ids.slice(5));
    });

    it('round-trips JSON, text, text with CR, JSON strings and binary payloads', async () => {
      const t = topic('payloads');
      const c = channel(hub.url);
      const got = [];
      c.subscribe(t, (m) => got.push(m), { after: await hub.publish(t, 'anchor') });
      const bytes = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);
      await c.publish(t, { a: [1, 'x', null], b: true }, { event: 'obj' });
      await c.publish(t, 'plain text\nwith two lines');
      await c.publish(t, 'cr\r\nline');
      await c.publish(t, '"just a string"', { contentType: 'application/json' });
      await c.publish(t, bytes);
      await c.publish(t, 'é ✓ 🚀', { contentType: 'text/markdown; charset=utf-8' });
      await until('6 payloads arrived', () => got.length >= 6);
      assert.deepEqual(got[0].data, { a: [1, 'x', null], b: true });
      assert.equal(got[0].event, 'obj');
      assert.match(got[0].contentType, /^application\/json/);
      assert.equal(got[1].data, 'plain text\nwith two lines');
      assert.match(got[1].contentType, /^text\/plain/);
      assert.equal(got[2].data, 'cr\r\nline');
      assert.equal(got[3].data, 'just a string');
      assert.ok(got[4].data instanceof Uint8Array, 'bytes arrive as a Uint8Array');
      assert.deepEqual([...got[4].data], [...bytes]);
      assert.equal(got[4].contentType, 'application/octet-stream');
      assert.equal(got[5].data, 'é ✓ 🚀');
      assert.equal(got[5].contentType, 'text/markdown; charset=utf-8');
    });

    it('rejects a refused publish with the hub status and code', async () => {
      const c = channel(hub.url);
      await assert.rejects(c.publish('bad topic!', 'x'), (e) => e.status == 400 && e.code == 'invalid_topic');
      await assert.rejects(c.publish(topic('json'), '{not json', { contentType: 'application/json' }),
        (e) => e.status == 400 && e.code == 'invalid_json');
    });

    it('ends a subscription with a malformed id through onError', async () => {
      const c = channel(hub.url);
      const errors = [];
      const sub = c.subscribe(topic('badid'), () => {}, { after: 'bad id with spaces', onError: (e) => errors.push(e) });
      await until('onError', () => errors.length);
      assert.equal(errors[0].status, 400);
      assert.equal(errors[0].code, 'invalid_id');
      assert.equal(sub.active, false);
    });

    it('reconnects after the hub restarts and resumes with nothing lost or repeated', async () => {
      const h = await startHub();
      try {
        const t = topic('restart');
        const c = channel(h.url);
        const states = [];
        c.on('state', (s) => states.push(s));
        const got = [];
        c.subscribe(t, (m) => got.push(m.id), { after: await h.publish(t, 'anchor') });
        await c.publish(t, 'before 1');
        await c.publish(t, 'before 2');
        await until('2 messages before the restart', () => got.length >= 2);
        await h.stop();
        await until('the channel noticed', () => c.state == 'reconnecting');
        for (let i = 0; i < 3; i++) await h.publish(t, 'while down ' + i);
        await h.start();
        await until('the 3 published while down arrived', () => got.length >= 5);
        await until('the channel is open again', () => c.state == 'open');
        await c.publish(t, 'after');
        await until('the one after arrived', () => got.length >= 6);
        assert.deepEqual(got, (await h.history(t)).slice(1));
        // (SSE and long polling are open from the start, before this listener was added)
        assert.deepEqual(states.slice(states.indexOf('reconnecting')), ['reconnecting', 'open']);
      } finally {
        await h.close();
      }
    });

    it('unsubscribes: no more messages reach the listener', async () => {
      const t = topic('unsub');
      const c = channel(hub.url);
      const got = [];
      const sub = c.subscribe(t, (m) => got.push(m.data), { after: await hub.publish(t, 'anchor') });
      await c.publish(t, 'one');
      await until('one arrived', () => got.length == 1);
      sub.unsubscribe();
      assert.equal(sub.active, false);
      await c.publish(t, 'two');
      // a second subscription (on the same channel) proves 'two' was delivered, but not to the first
      const again = [];
      c.subscribe(t, (m) => again.push(m.data), { after: sub.lastId });
      await until('two arrived on the new subscription', () => again.length == 1);
      assert.deepEqual(got, ['one']);
    });
  });
}
