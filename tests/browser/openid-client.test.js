// Interop with a relying-party library nobody here wrote: npm openid-client (v6) drives the
// features the openidconnect crate lacks. Pushed authorization requests (RFC 9126): the
// library pushes the request with its client credentials, Chromium carries only client_id and
// request_uri to the login form, and the library redeems the code and validates the ID token
// (iss in the response, RFC 9207; state, nonce, PKCE). Signed request objects (RFC 9101): the
// library signs the request with the client's key, by value and pushed, and authenticates
// with private_key_jwt. DPoP (RFC 9449): the library binds the code (through PAR), the access
// and refresh tokens to its key, answers our nonce challenge, and calls userinfo with proofs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as oidc from 'openid-client';

import {
  CALLBACK,
  DEMO_PASSWORD,
  DEMO_USER,
  authorizationResponse,
  cli,
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

  /**
   * Registers `id` with a fresh P-256 key (private_key_jwt) and `flags` through the command
   * line; returns the key (for openid-client) and the library's configuration for it.
   */
  const keyClient = async (id, flags) => {
    const { privateKey, publicKey } = await crypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'],
    );
    const kid = `${id}-1`;
    const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid, alg: 'ES256', use: 'sig' };
    const jwksFile = join(server.dir, `${id}.jwks.json`);
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    cli(server, [
      'client', 'add', '--id', id, '--name', id, '--redirect-uri', CALLBACK,
      '--auth-method', 'private_key_jwt', '--jwks-file', jwksFile, ...flags,
    ]);
    const key = { key: privateKey, kid };
    const clientConfig = await oidc.discovery(
      new URL(server.base), id, undefined, oidc.PrivateKeyJwt(key),
      { execute: [oidc.allowInsecureRequests] },
    );
    return { key, config: clientConfig };
  };

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

  it('signs the request (JAR) by value and pushed, with private_key_jwt', async () => {
    const meta = config.serverMetadata();
    assert.equal(meta.request_parameter_supported, true);
    assert.ok(meta.request_object_signing_alg_values_supported.includes('ES256'));

    // A client registered with its public key, that may only send signed requests.
    const { key, config: jar } = await keyClient('jar-rp', ['--require-signed-request']);

    const signIn = async (url, expected) => {
      // Within the SSO session the IdP redirects straight back; nothing listens on the
      // callback port, so the navigation itself ends in a network error.
      const back = await authorizationResponse(page, server.base, async () => {
        await page.goto(url.href).catch(() => {});
      });
      const tokens = await oidc.authorizationCodeGrant(jar, back, expected);
      assert.equal(tokens.claims().aud, 'jar-rp');
      assert.equal(tokens.claims().nonce, expected.expectedNonce);
    };
    const request = async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const params = {
        redirect_uri: CALLBACK,
        scope: 'openid profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
      };
      const expected = { pkceCodeVerifier: verifier, expectedState: params.state, expectedNonce: params.nonce };
      return { params, expected };
    };

    // A plain request of this client is refused (back to the client, invalid_request).
    const plain = await request();
    const refused = await fetch(oidc.buildAuthorizationUrl(jar, plain.params), { redirect: 'manual' });
    assert.equal(new URL(refused.headers.get('location')).searchParams.get('error'), 'invalid_request');

    // By value: the browser carries the signed object. The SSO session of the first test
    // signs the person in without the form.
    const byValue = await request();
    const url = await oidc.buildAuthorizationUrlWithJAR(jar, byValue.params, key);
    assert.ok(url.searchParams.get('request'));
    assert.equal(url.searchParams.get('state'), null);
    await signIn(url, byValue.expected);

    // Signed and pushed (RFC 9126 §3): only the reference travels through the browser.
    const pushed = await request();
    const { searchParams } = await oidc.buildAuthorizationUrlWithJAR(jar, pushed.params, key);
    const viaPar = await oidc.buildAuthorizationUrlWithPAR(jar, searchParams);
    assert.deepEqual([...viaPar.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    await signIn(viaPar, pushed.expected);
  });

  it('binds the tokens to a DPoP key (PAR, code, userinfo, refresh)', async () => {
    assert.ok(config.serverMetadata().dpop_signing_alg_values_supported.includes('ES256'));
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    // The proof at the PAR endpoint binds the code to the key (RFC 9449 §10.1); the library
    // gets our nonce from the first, refused attempt (use_dpop_nonce) and retries.
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CALLBACK,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }, { DPoP });
    // Within the SSO session of the first test: straight back to the client.
    const back = await authorizationResponse(page, server.base, async () => {
      await page.goto(url.href).catch(() => {});
    });
    const tokens = await oidc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    }, undefined, { DPoP });
    assert.equal(tokens.token_type, 'dpop');
    const sub = tokens.claims().sub;

    // userinfo with a proof over the token (ath).
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
    assert.equal(info.sub, sub);
    // The same token as a plain bearer token is refused.
    const stolen = await fetch(`${server.base}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(stolen.status, 401);
    assert.match(stolen.headers.get('www-authenticate'), /^DPoP .*error="invalid_token"/);

    // A refresh with a proof keeps the binding.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
    assert.equal(refreshed.token_type, 'dpop');
    const again = await oidc.fetchUserInfo(config, refreshed.access_token, sub, { DPoP });
    assert.equal(again.sub, sub);
  });

  it('a FAPI 2.0 client: PAR, PKCE, private_key_jwt and DPoP together, the request signed', async () => {
    const { key, config: fapi } = await keyClient('fapi-rp', ['--fapi2', '--require-signed-request']);
    const DPoP = oidc.getDPoPHandle(fapi, await oidc.randomDPoPKeyPair('ES256'));
    const verifier = oidc.randomPKCECodeVerifier();
    const params = {
      redirect_uri: CALLBACK,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
    };
    // Without PAR the profile refuses the request.
    const plain = await fetch(oidc.buildAuthorizationUrl(fapi, params), { redirect: 'manual' });
    assert.equal(new URL(plain.headers.get('location')).searchParams.get('error'), 'invalid_request');

    // Signed (JAR) and pushed with a proof: the fresh DPoP handle has no nonce yet, so the
    // library's first push is refused (use_dpop_nonce) and sent again, same request object.
    const signed = await oidc.buildAuthorizationUrlWithJAR(fapi, params, key);
    const url = await oidc.buildAuthorizationUrlWithPAR(fapi, signed.searchParams, { DPoP });
    const back = await authorizationResponse(page, server.base, async () => {
      await page.goto(url.href).catch(() => {});
    });
    const tokens = await oidc.authorizationCodeGrant(fapi, back, {
      pkceCodeVerifier: verifier,
      expectedState: params.state,
      expectedNonce: params.nonce,
    }, undefined, { DPoP });
    assert.equal(tokens.token_type, 'dpop');
    assert.equal(tokens.claims().aud, 'fapi-rp');
  });
});
