// The MPSV pages of a login, in real Chromium with the demo data set: choosing the
// organisation one acts for, the page that explains a refused application, and the account
// page's organisations and permissions. Each is checked by axe-core (WCAG 2.1 AA) and
// photographed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_PASSWORD,
  STEP_TIMEOUT,
  checkA11y,
  demoSecret,
  launchBrowser,
  newContext,
  screenshot,
  startServer,
} from './lib/harness.js';

const POSKYTOVATEL = { id: 'oksluzby-poskytovatel', callback: 'http://127.0.0.1:8091/callback' };
const RODINA = { id: 'oksluzby-rodina', callback: 'http://127.0.0.1:8092/callback' };

describe('MPSV login pages', { timeout: 180_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  /**
   * An authorization request of an application client (PKCE challenge of RFC 7636 B). The
   * OKslužby demo clients require PAR (RFC 9126): the parameters are pushed with the client's
   * secret and the browser goes to /authorize with the request_uri alone.
   */
  async function authorizeUrl(client) {
    const secret = demoSecret(server.output(), client.id);
    const r = await fetch(new URL('/par', server.base), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        client_id: client.id,
        response_type: 'code',
        scope: 'openid profile mpsv organisation',
        redirect_uri: client.callback,
        state: 'st-123',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    const { request_uri: requestUri } = await r.json();
    const u = new URL('/authorize', server.base);
    u.search = new URLSearchParams({ client_id: client.id, request_uri: requestUri }).toString();
    return u.toString();
  }

  async function signIn(page, username) {
    await page.getByLabel('Uživatelské jméno').fill(username);
    await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Přihlásit se' }).click();
  }

  /** Runs `act` and returns the authorization response URL it sends the browser to. */
  async function callback(page, client, act) {
    const request = page.waitForRequest(
      (r) => r.isNavigationRequest() && r.url().startsWith(`${client.callback}?`),
      { timeout: STEP_TIMEOUT },
    );
    await act();
    const url = new URL((await request).url());
    await page.waitForLoadState('load').catch(() => {});
    return url;
  }

  it('a person in two organisations chooses the one they act for', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(await authorizeUrl(POSKYTOVATEL));
    await signIn(page, 'jan.horak');
    await page.getByRole('heading', { level: 1, name: 'Za koho jednáte' }).waitFor();
    await checkA11y(page, 'organisation choice');
    await screenshot(page, 'organisation-choice');
    await page.getByRole('radio', { name: /Šťastná rodina/ }).check();
    const url = await callback(page, POSKYTOVATEL, () =>
      page.getByRole('button', { name: 'Pokračovat' }).click());
    assert.match(url.searchParams.get('code') ?? '', /^[\w-]{16,}$/);
    assert.equal(url.searchParams.get('state'), 'st-123');
    await context.close();
  });

  it('a refused application is explained, then reported to it as access_denied', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(await authorizeUrl(RODINA));
    await signIn(page, 'eva.cerna');
    await page.getByRole('heading', { level: 1, name: 'Přístup do aplikace nemáte' }).waitFor();
    assert.match(await page.textContent('main'), /OKslužby – rodina/);
    await checkA11y(page, 'access denied');
    await screenshot(page, 'access-denied');
    const url = await callback(page, RODINA, () =>
      page.getByRole('link', { name: 'Zpět do aplikace' }).click());
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(url.searchParams.get('state'), 'st-123');
    assert.equal(url.searchParams.get('iss'), server.base);
    await context.close();
  });

  it('the account page shows organisations, applications and the submit permission', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(new URL('/account', server.base).toString());
    await signIn(page, 'marie.svobodova');
    await page.getByRole('heading', { level: 2, name: 'Organizace a oprávnění' }).waitFor();
    const table = await page.textContent('table');
    assert.match(table, /Šťastná rodina, z\. ú\./);
    assert.match(table, /OKslužby – poskytovatel, OKslužby – rodina/);
    assert.match(table, /smí podávat \(statutární zástupce\)/);
    assert.match(await page.textContent('main'), /MP\d{9}/);
    await checkA11y(page, 'account with organisations');
    await screenshot(page, 'account-organisations');
    await context.close();
  });

  it('a statutory representative delegates submitting on the self-service page', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(new URL('/account', server.base).toString());
    await signIn(page, 'petr.dvorak');
    await page.getByRole('link', { name: 'Pověření k podání' }).click();
    await page.getByRole('heading', { level: 1, name: 'Pověření k podání' }).waitFor();
    // The demo delegation from petr.dvorak to tomas.kral is listed.
    assert.match(await page.textContent('table'), /Tomáš Král/);
    await page.getByLabel('Pověřit kolegu nebo kolegyni').selectOption({ label: 'Eva Černá (eva.cerna)' });
    await page.getByRole('button', { name: 'Pověřit k podání' }).click();
    await page.getByText('Pověření bylo uděleno.').waitFor();
    assert.match(await page.textContent('table'), /Eva Černá/);
    await checkA11y(page, 'delegations');
    await screenshot(page, 'delegations');
    await page.getByRole('button', { name: 'Zrušit pověření: Eva Černá' }).click();
    await page.getByText('Pověření bylo zrušeno.').waitFor();
    assert.doesNotMatch(await page.textContent('table'), /Eva Černá/);
    await context.close();
  });
});
