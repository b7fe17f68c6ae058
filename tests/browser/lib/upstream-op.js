// An independent OpenID Provider standing in for the national identification point (NIA,
// "Identita občana"): npm `oidc-provider` on 127.0.0.1, configured as NIA publishes it for
// OpenID Connect relying parties — the eIDAS levels of assurance as `acr`
// (http://eidas.europa.eu/LoA/low|substantial|high), a per-service pseudonymous `sub`, and the
// person's given name, family name and birth date under `profile` (see
// docs/decisions.md "National eID (NIA)" for where these come from). Its login page is ours:
// a pseudonym field, "Přihlásit" (at the level "substantial") and "Zrušit" (which answers the
// relying party with error=access_denied).

import { createServer } from 'node:http';

import Provider from 'oidc-provider';

export const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';

const PERSON = { given_name: 'Jana', family_name: 'Nováková', birthdate: '1980-04-02' };

function page(uid) {
  return `<!doctype html><html lang="cs"><head><meta charset="utf-8"><title>Identita občana (test)</title></head>
<body><main><h1>Identita občana (testovací)</h1>
<form method="post" action="/interaction/${uid}/login">
<label for="login">Pseudonym</label> <input id="login" name="login" value="nia-demo">
<button type="submit">Přihlásit</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Zrušit</button></form>
</main></body></html>`;
}

async function body(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return new URLSearchParams(data);
}

/**
 * Starts the provider on `port` for the relying party `redirectUri` (client `mpsv-idp`,
 * secret `upstream-secret`, client_secret_basic). Returns { issuer, stop() }.
 */
export async function startUpstreamOp({ port, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'mpsv-idp',
      client_secret: 'upstream-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    acrValues: ['http://eidas.europa.eu/LoA/low', SUBSTANTIAL, 'http://eidas.europa.eu/LoA/high'],
    claims: { openid: ['sub'], profile: ['given_name', 'family_name', 'birthdate'] },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['upstream-op-test-cookie-key'] },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      return { accountId: id, claims: async () => ({ sub: id, ...PERSON }) };
    },
    // The person consented to NIA's release once for all; no consent page.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile');
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  const server = createServer(async (req, res) => {
    try {
      const m = req.url.match(/^\/interaction\/([\w-]+)(\/login|\/abort)?$/);
      if (m && req.method === 'GET') {
        const details = await provider.interactionDetails(req, res);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page(details.uid));
        return;
      }
      if (m && req.method === 'POST' && m[2] === '/login') {
        const form = await body(req);
        await provider.interactionFinished(req, res, {
          login: { accountId: form.get('login') || 'nia-demo', acr: SUBSTANTIAL, amr: ['mfa'] },
        }, { mergeWithLastSubmission: false });
        return;
      }
      if (m && req.method === 'POST' && m[2] === '/abort') {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'the person cancelled the sign-in',
        }, { mergeWithLastSubmission: false });
        return;
      }
      callback(req, res);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return {
    issuer,
    stop: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}
