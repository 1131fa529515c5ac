// A real OpenID provider (oidc-provider) for the end-to-end tests.
//
// Usage:
//   node server.mjs --port PORT --issuer https://localhost:PORT \
//     --cert chain.pem --key key.pem --settings settings.json [--watch-stdin]
//
// It serves HTTPS on 127.0.0.1:PORT, prints one line "READY <issuer>" on stdout once it
// listens, logs errors to stderr and exits on SIGTERM, SIGINT, or (with --watch-stdin) when
// its standard input closes, so that it never outlives the test that started it.
//
// The settings file is JSON:
//   {
//     "clients": [{ "client_id": "...", "client_secret": "...", "redirect_uris": ["..."],
//                   "token_endpoint_auth_method": "client_secret_basic",
//                   "post_logout_redirect_uris": ["..."], "backchannel_logout_uri": "..." }],
//     "users": [{ "accountId": "...", "username": "...", "password": "...",
//                 "claims": { "name": "...", "email": "...", "email_verified": true,
//                             "groups": ["..."] } }],
//     "scopes": { "roles": ["roles"] }
//   }
// Clients are passed to oidc-provider as client metadata. A user's accountId (the "sub")
// defaults to the username. "scopes" adds scopes, each with the claims it releases, to the
// built-in ones: openid (sub), profile (name, preferred_username), email (email,
// email_verified) and groups (groups).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const args = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    settings: { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
}).values;

for (const name of ['port', 'issuer', 'cert', 'key', 'settings']) {
  if (!args[name]) {
    fail(`missing --${name}`);
  }
}

const settings = JSON.parse(fs.readFileSync(args.settings, 'utf8'));
const users = (settings.users || []).map((u) => ({ ...u, accountId: u.accountId || u.username }));

// ---------------------------------------------------------------------------------------------
// Pages. Every page is plain, self-contained HTML: no scripts, fonts or styles from elsewhere,
// so that a browser driven by the tests never reaches beyond this machine.

function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`;
}

function loginPage(uid, clientId, message) {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  return page('Sign in', `<p>Sign in to continue to ${esc(clientId)}.</p>
${message ? `<p id="error">${esc(message)}</p>` : ''}
<form method="post" action="${esc(action)}" autocomplete="off">
<label>Username <input id="username" name="username" type="text" autofocus></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="login" type="submit">Sign in</button>
</form>`);
}

function sendHTML(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

// ---------------------------------------------------------------------------------------------
// Accounts.

async function findAccount(_ctx, sub) {
  const user = users.find((u) => u.accountId === sub);
  if (!user) {
    return undefined;
  }
  return {
    accountId: user.accountId,
    // oidc-provider filters these by the granted scopes and claims.
    async claims() {
      return { ...(user.claims || {}), sub: user.accountId };
    },
  };
}

function checkPassword(username, password) {
  const user = users.find((u) => u.username === username);
  if (!user || typeof password !== 'string') {
    return undefined;
  }
  const a = Buffer.from(String(user.password));
  const b = Buffer.from(password);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
    return undefined;
  }
  return user;
}

// ---------------------------------------------------------------------------------------------
// Provider configuration.

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };
}

// loopbackFetch is the provider's only way out (back-channel logout, client metadata): it
// reaches loopback addresses only, where the test servers run, and skips oidc-provider's
// guard against private and loopback targets, which would refuse exactly those.
async function loopbackFetch(url, options) {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
    throw new Error(`refusing to fetch from ${host}: only loopback addresses are allowed`);
  }
  const { dispatcher, ...rest } = options;
  return globalThis.fetch(url, rest);
}

const configuration = {
  clients: settings.clients || [],
  fetch: loopbackFetch,
  findAccount,
  jwks: { keys: [signingKey()] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
    ...(settings.scopes || {}),
  },
  // Release the claims of the granted scopes in the ID token too, not only at userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    revocation: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `<p>Do you want to sign out?</p>
${form}
<button id="logout" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button id="stay" type="submit" form="op.logoutForm">Stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
    deviceFlow: {
      enabled: true,
      userCodeInputSource: async (ctx, form, _out, err) => {
        const msg = err ? '<p id="error">The code is not valid.</p>' : '';
        ctx.body = page('Device sign in', `${msg}${form}
<button id="continue" type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      userCodeConfirmSource: async (ctx, form, client, _info, userCode) => {
        ctx.body = page('Confirm device', `<p>${esc(client.clientId)} shows the code
<code id="user-code">${esc(userCode)}</code>.</p>
${form}
<button id="confirm" type="submit" form="op.deviceConfirmForm">Continue</button>
<button id="abort" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">
Abort</button>`);
      },
      successSource: async (ctx) => {
        ctx.body = page('Device signed in', '<p id="success">You can close this page.</p>');
      },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out)
      .map(([k, v]) => `<p class="${esc(k)}">${esc(k)}: ${esc(v)}</p>`).join('\n'));
  },
  // Short lifetimes (seconds): a test run is short, and expiry paths become reachable.
  ttl: {
    AccessToken: 300,
    AuthorizationCode: 60,
    BackchannelAuthenticationRequest: 300,
    ClientCredentials: 300,
    DeviceCode: 300,
    Grant: 600,
    IdToken: 300,
    Interaction: 300,
    RefreshToken: 600,
    Session: 600,
  },
};

const provider = new Provider(args.issuer, configuration);

for (const event of [
  'server_error', 'authorization.error', 'grant.error', 'userinfo.error',
  'end_session.error', 'revocation.error', 'backchannel.error', 'device_authorization.error',
]) {
  provider.on(event, (...params) => {
    const err = params.find((p) => p instanceof Error);
    const description = err?.error_description ? `: ${err.error_description}` : '';
    console.error(`oidc-provider ${event}: ${err ? err.message : ''}${description}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Interactions: a login form, and consent granted automatically.

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) {
      throw new Error('form too large');
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function showInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (prompt.name === 'login') {
    sendHTML(res, 200, loginPage(uid, params.client_id, ''));
    return;
  }
  if (prompt.name === 'consent') {
    await grantConsent(req, res, details);
    return;
  }
  sendHTML(res, 400, page('Error', `<p>unsupported prompt ${esc(prompt.name)}</p>`));
}

// grantConsent grants what the client asked for, as a first-party client's consent would.
async function grantConsent(req, res, details) {
  const { prompt: { details: missing }, params, session: { accountId } } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) {
    grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  }
  if (missing.missingOIDCClaims) {
    grant.addOIDCClaims(missing.missingOIDCClaims);
  }
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function submitLogin(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    sendHTML(res, 400, page('Error', '<p>no login is pending</p>'));
    return;
  }
  const form = await readForm(req);
  const user = checkPassword(form.get('username'), form.get('password'));
  if (!user) {
    const html = loginPage(details.uid, details.params.client_id, 'Invalid username or password.');
    sendHTML(res, 200, html);
    return;
  }
  const result = { login: { accountId: user.accountId } };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function interactions(req, res) {
  const path = new URL(req.url, args.issuer).pathname;
  const login = /^\/interaction\/[^/]+\/login$/.test(path);
  try {
    if (req.method === 'GET' && !login) {
      await showInteraction(req, res);
    } else if (req.method === 'POST' && login) {
      await submitLogin(req, res);
    } else {
      sendHTML(res, 405, page('Error', '<p>method not allowed</p>'));
    }
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      sendHTML(res, 400, page('Error', '<p id="error">The sign-in session has expired.</p>'));
      return;
    }
    console.error(`interaction error: ${err.message}`);
    if (!res.headersSent) {
      sendHTML(res, 500, page('Error', '<p>internal error</p>'));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Server.

const oidc = provider.callback();
const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
}, (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interactions(req, res);
    return;
  }
  oidc(req, res);
});

server.on('error', (err) => fail(`listen: ${err.message}`));
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stdout.write(`READY ${args.issuer}\n`);
});

function stop() {
  server.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (args['watch-stdin']) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

function fail(message) {
  console.error(`server.mjs: ${message}`);
  process.exit(2);
}
