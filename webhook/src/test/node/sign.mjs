// Deliveries signed by the official libraries of each scheme, for WebhookInteropTest to verify with
// WebhookVerifier: valid ones, and tampered, stale, future and wrongly-keyed ones.
//
// Usage: node sign.mjs; prints {"now": <epoch seconds>, "cases": [...]} where a case is
// { name, scheme, secrets (what the verifier holds), headers, body, expect ("ok" or a Reason code) },
// and for a published vector also its own "now" and "library" (whether the library agreed with it).
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import Stripe from 'stripe';

const stripe = new Stripe('sk_test_interop_never_used_for_api_calls');
const now = Math.floor(Date.now() / 1000);
const body = JSON.stringify({ type: 'price.updated', data: { symbol: 'EUR€', price: 1.0845, note: 'ünïcödé "quoted"' } });
const tampered = body.replace('1.0845', '1.0846');
const STALE = now - 600; // 10 minutes: past the 5-minute tolerance of every scheme
const FUTURE = now + 600;
const STD_OLD = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const STD_NEW = 'whsec_' + Buffer.from('a brand new secret key!!').toString('base64');
const STD_WRONG = 'whsec_' + Buffer.from('somebody else entirely').toString('base64');

const cases = [];
const add = (name, scheme, secrets, headers, expect, payload = body) =>
  cases.push({ name, scheme, secrets, headers, body: payload, expect });

// Standard Webhooks through both libraries; svix under its svix-* header names.
for (const [lib, Webhook, prefix] of [['standardwebhooks', StandardWebhook, 'webhook'], ['svix', SvixWebhook, 'svix']]) {
  const headers = (secret, ts, id = 'msg_2ZxQ9' + lib) => ({
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(ts),
    [`${prefix}-signature`]: new Webhook(secret).sign(id, new Date(ts * 1000), body),
  });
  add(`${lib}: valid`, 'standard', [STD_OLD], headers(STD_OLD, now), 'ok');
  add(`${lib}: signed with the new key, verifier holds old and new`, 'standard', [STD_OLD, STD_NEW], headers(STD_NEW, now), 'ok');
  add(`${lib}: tampered body`, 'standard', [STD_OLD], headers(STD_OLD, now), 'no_matching_signature', tampered);
  add(`${lib}: stale`, 'standard', [STD_OLD], headers(STD_OLD, STALE), 'timestamp_too_old');
  add(`${lib}: future`, 'standard', [STD_OLD], headers(STD_OLD, FUTURE), 'timestamp_too_new');
  add(`${lib}: wrong key`, 'standard', [STD_OLD, STD_NEW], headers(STD_WRONG, now), 'no_matching_signature');
  const other = headers(STD_OLD, now);
  other[`${prefix}-id`] = 'msg_other';
  add(`${lib}: id changed after signing`, 'standard', [STD_OLD], other, 'no_matching_signature');
}

// Stripe: generateTestHeaderString is the library's own signer (t=…,v1=…).
const stripeHeader = (secret, ts) => ({
  'Stripe-Signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: ts }),
});
add('stripe: valid', 'stripe', ['whsec_stripe_old'], stripeHeader('whsec_stripe_old', now), 'ok');
add('stripe: signed with the new key, verifier holds old and new', 'stripe', ['whsec_stripe_old', 'whsec_stripe_new'],
  stripeHeader('whsec_stripe_new', now), 'ok');
add('stripe: tampered body', 'stripe', ['whsec_stripe_old'], stripeHeader('whsec_stripe_old', now), 'no_matching_signature', tampered);
add('stripe: stale', 'stripe', ['whsec_stripe_old'], stripeHeader('whsec_stripe_old', STALE), 'timestamp_too_old');
add('stripe: future', 'stripe', ['whsec_stripe_old'], stripeHeader('whsec_stripe_old', FUTURE), 'timestamp_too_new');
add('stripe: wrong key', 'stripe', ['whsec_stripe_old', 'whsec_stripe_new'], stripeHeader('whsec_wrong', now), 'no_matching_signature');

// GitHub (and the generic hex HMAC, the same algorithm in another header): no timestamp to go stale.
const gh = async (secret, header = 'X-Hub-Signature-256') => ({ [header]: await octokitSign(secret, body) });
add('octokit: valid', 'github', ['It\'s a Secret to Everybody'], await gh('It\'s a Secret to Everybody'), 'ok');
add('octokit: signed with the new key, verifier holds old and new', 'github', ['old-secret', 'new-secret'],
  await gh('new-secret'), 'ok');
add('octokit: tampered body', 'github', ['old-secret'], await gh('old-secret'), 'no_matching_signature', tampered);
add('octokit: wrong key', 'github', ['old-secret', 'new-secret'], await gh('wrong-secret'), 'no_matching_signature');
add('octokit generic header: valid', 'generic', ['old-secret'], await gh('old-secret', 'X-Signature'), 'ok');
add('octokit generic header: wrong key', 'generic', ['old-secret'], await gh('wrong-secret', 'X-Signature'), 'no_matching_signature');

// Slack: the documented base string v0:timestamp:body, HMAC-SHA256 in hex after "v0=".
const slack = (secret, ts) => ({
  'X-Slack-Request-Timestamp': String(ts),
  'X-Slack-Signature': 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex'),
});
add('slack: valid', 'slack', ['8f742231b10e8888abcd99yyyzzz85a5'], slack('8f742231b10e8888abcd99yyyzzz85a5', now), 'ok');
add('slack: signed with the new key, verifier holds old and new', 'slack', ['old-secret', 'new-secret'], slack('new-secret', now), 'ok');
add('slack: tampered body', 'slack', ['old-secret'], slack('old-secret', now), 'no_matching_signature', tampered);
add('slack: stale', 'slack', ['old-secret'], slack('old-secret', STALE), 'timestamp_too_old');
add('slack: future', 'slack', ['old-secret'], slack('old-secret', FUTURE), 'timestamp_too_new');
add('slack: wrong key', 'slack', ['old-secret', 'new-secret'], slack('wrong-secret', now), 'no_matching_signature');

// The published vectors (src/test/resources/webhook-vectors.json) that the libraries can check, checked
// by them at the vector's time; the case carries that time and the library's verdict.
const { vectors } = JSON.parse(readFileSync(new URL('../resources/webhook-vectors.json', import.meta.url), 'utf8'));
for (const v of vectors) {
  let verdict;
  if (v.scheme === 'standard-webhooks' && v.headers['webhook-signature'].startsWith('v1,')) {
    const realNow = Date.now;
    Date.now = () => v.now * 1000; // standardwebhooks reads the clock for its tolerance
    try {
      new StandardWebhook(v.secret).verify(v.body, v.headers);
      verdict = true;
    } catch {
      verdict = false;
    } finally {
      Date.now = realNow;
    }
  } else if (v.scheme === 'github') {
    verdict = await octokitVerify(v.secret, v.body, v.headers['X-Hub-Signature-256']);
  } else {
    continue; // v1a (Ed25519): the JavaScript library verifies v1 only
  }
  cases.push({ name: `vector: ${v.name}`, scheme: v.scheme === 'github' ? 'github' : 'standard', secrets: [v.secret],
    headers: v.headers, body: v.body, expect: v.valid ? 'ok' : 'no_matching_signature', now: v.now ?? now,
    library: verdict === v.valid });
}

process.stdout.write(JSON.stringify({ now, cases }) + '\n');
