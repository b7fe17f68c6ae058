// Interop with a relying-party library nobody here wrote: npm openid-client (v6) drives the
// features the openidconnect crate lacks. Pushed authorization requests (RFC 9126): the
// library pushes the request with its client credentials, Chromium carries only client_id and
// request_uri to the login form, and the library redeems the code and validates the ID token
// (iss in the response, RFC 9207; state, nonce, PKCE).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import * as oidc from 'openid-client';

import {
  CALLBACK,
  DEMO_PASSWORD,
  DEMO_USER,
  authorizationResponse,
  demoSecret,
  launchBrowser,
  newContext,
  startServer,
} from './lib/harness.js';

describe('openid-client as the relying party', { timeout: 120_000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  let config;

  before(async () => {
    server = await startServer();
    const secret = demoSecret(server.output(), 'demo-rp');
    // The demo client authenticates with HTTP Basic; the issuer is plain HTTP on 127.0.0.1.
    config = await oidc.discovery(
      new URL(server.base),
      'demo-rp',
      undefined,
      oidc.ClientSecretBasic(secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('pushes the authorization request (PAR), signs in and redeems the code', async () => {
    assert.equal(config.serverMetadata().pushed_authorization_request_endpoint, `${server.base}/par`);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CALLBACK,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    // Only the reference travels through the browser.
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);

    await page.goto(url.href);
    assert.equal(new URL(page.url()).pathname, '/login');
    const back = await authorizationResponse(page, server.base, async () => {
      await page.getByLabel('Uživatelské jméno').fill(DEMO_USER);
      await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Přihlásit se' }).click();
    });

    const tokens = await oidc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims();
    assert.equal(claims.iss, server.base);
    assert.equal(claims.aud, 'demo-rp');
    assert.ok(tokens.access_token);

    // The reference is single use (RFC 9126 §4).
    const again = await fetch(url.href, { redirect: 'manual' });
    assert.equal(again.status, 400);
  });
});
