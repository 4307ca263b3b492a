// Webhook receivers built on the official libraries of each scheme, for WebhookInteropTest.
//
// Usage: node receiver.mjs '<config JSON>'; config = { "<scheme>": { "old": secret, "new": secret }, ... }
// for the schemes standard, stripe, github, slack and generic. Listens on 127.0.0.1 (a free port),
// prints {"port": N} on the first line of stdout, then one JSON line per request. A request to
// /<receiver>/<holds> is verified by that receiver holding the old, the new or both secrets; it answers
// 204 when one of them verifies, else 401 with the library's error.
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import Stripe from 'stripe';

const config = JSON.parse(process.argv[2]);
const stripe = new Stripe('sk_test_interop_never_used_for_api_calls');

// Slack has no verifying function outside @slack/bolt's HTTP receiver; this is the algorithm of
// https://api.slack.com/authentication/verifying-requests-from-slack (and of bolt's verifySlackRequest).
function slackVerify(secret, headers, body) {
  const ts = Number(headers['x-slack-request-timestamp']);
  const given = headers['x-slack-signature'] ?? '';
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > 300) {
    throw new Error('stale or missing x-slack-request-timestamp');
  }
  const expected = 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
  if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
    throw new Error('x-slack-signature does not match');
  }
}

async function octokit(secret, body, signature) {
  if (!(await octokitVerify(secret, body, signature ?? ''))) {
    throw new Error('@octokit/webhooks-methods verify() returned false');
  }
}

/** Each receiver: (secret, headers, raw body as a string) → resolves when verified, else throws. */
const receivers = {
  standardwebhooks: { scheme: 'standard', verify: (s, h, b) => new StandardWebhook(s).verify(b, h) },
  svix: { scheme: 'standard', verify: (s, h, b) => new SvixWebhook(s).verify(b, h) },
  stripe: { scheme: 'stripe', verify: (s, h, b) => stripe.webhooks.constructEvent(b, h['stripe-signature'], s) },
  octokit: { scheme: 'github', verify: (s, h, b) => octokit(s, b, h['x-hub-signature-256']) },
  slack: { scheme: 'slack', verify: (s, h, b) => slackVerify(s, h, b) },
  'octokit-generic': { scheme: 'generic', verify: (s, h, b) => octokit(s, b, h['x-signature']) },
};

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const [, name, holds] = req.url.split('?')[0].split('/');
    const receiver = receivers[name];
    const secrets = config[receiver?.scheme];
    const held = holds === 'both' ? [secrets?.old, secrets?.new] : [secrets?.[holds]];
    const errors = [];
    if (!receiver || held.some((s) => !s)) {
      errors.push(`no receiver ${req.url}`);
    } else {
      for (const secret of held) {
        try {
          await receiver.verify(secret, req.headers, body);
          errors.length = 0;
          break;
        } catch (e) {
          errors.push(`${e.constructor.name}: ${e.message}`);
        }
      }
    }
    const ok = errors.length === 0;
    process.stdout.write(JSON.stringify({ url: req.url, ok, errors }) + '\n');
    res.writeHead(ok ? 204 : 401, { 'content-type': 'text/plain' });
    res.end(ok ? undefined : errors.join('; '));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
// The test closes our stdin when it is done: exit then, even if it could not kill us.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
