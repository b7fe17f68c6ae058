// Passkeys in a real browser, with Chromium's virtual WebAuthn authenticator (Chrome DevTools
// Protocol, WebAuthn.addVirtualAuthenticator: CTAP2, built in, resident keys, user
// verification): adding one on the account page (a wrong password refused first), signing in
// with it without a username, using it as the second factor after the password, renaming and
// removing it, and a removed passkey refused. The issuer is http://localhost:<port>, since
// WebAuthn refuses IP addresses. Every page is checked by axe-core and photographed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  CALLBACK,
  authorizationResponse,
  DEMO_PASSWORD,
  DEMO_USER,
  checkA11y,
  launchBrowser,
  newContext,
  screenshot,
  startServer,
} from './lib/harness.js';

describe('passkeys', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  let cdp;
  let authenticatorId;
  let broken = false;

  const step = (name, fn) =>
    it(name, async (t) => {
      if (broken) {
        t.skip('an earlier step failed');
        return;
      }
      try {
        await fn(t);
      } catch (e) {
        broken = true;
        throw e;
      }
    });

  async function expectCode(submit) {
    const url = await authorizationResponse(page, server.base, submit);
    assert.equal(`${url.origin}${url.pathname}`, CALLBACK);
    assert.equal(url.searchParams.get('error'), null, url.searchParams.get('error_description') ?? '');
    assert.match(url.searchParams.get('code') ?? '', /^[\w-]{16,}$/, 'an authorization code');
  }

  async function signOutEverywhere() {
    await page.goto(`${server.base}/account`);
    await page.getByRole('button', { name: 'Odhlásit se ze všech aplikací' }).click();
    await page.getByText('Byli jste odhlášeni ze všech aplikací').waitFor();
  }

  async function credentials() {
    return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  }

  before(async () => {
    server = await startServer({ host: 'localhost' });
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }));
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  step('signs in with the password first', async () => {
    await page.goto(server.tryUrl);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.getByLabel('Uživatelské jméno').fill(DEMO_USER);
    await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
    await expectCode(() => page.getByRole('button', { name: 'Přihlásit se', exact: true }).click());
  });

  step('without a second factor, a request for the MFA level says why and how to get one', async () => {
    const url = new URL(server.tryUrl);
    url.searchParams.set('acr_values', 'urn:mpsv:idp:acr:mfa');
    await page.goto(url.href);
    await page.waitForURL((u) => u.pathname === '/login/mfa');
    await page.getByRole('heading', { level: 1, name: 'Je potřeba druhý faktor' }).waitFor();
    assert.match(await page.locator('main').innerText(), /statutární zástupce/);
    await page.getByRole('link', { name: 'Nastavit druhý faktor na stránce Můj účet' }).waitFor();
    await checkA11y(page, 'second factor needed');
    await screenshot(page, 'mfa-required');
    const response = await authorizationResponse(page, server.base, () =>
      page.getByRole('link', { name: 'Zpět do aplikace bez podání' }).click(),
    );
    assert.equal(response.searchParams.get('error'), 'unmet_authentication_requirements');
  });

  step('the account page offers passkeys', async () => {
    await page.goto(`${server.base}/account`);
    const section = page.getByRole('region', { name: 'Přístupové klíče' });
    await section.waitFor();
    assert.match(await section.innerText(), /Zatím nemáte žádný přístupový klíč/);
    await page.getByRole('button', { name: 'Přidat přístupový klíč' }).waitFor();
    assert.equal(await page.locator('#passkey-unsupported').isHidden(), true, 'WebAuthn is there');
    await checkA11y(page, 'account with passkeys');
  });

  step('adding one with a wrong password is refused on the page', async () => {
    await page.getByLabel('Název nového klíče').fill('Tento počítač');
    await page.getByLabel('Pro přidání klíče zadejte heslo').fill('špatné heslo');
    await page.getByRole('button', { name: 'Přidat přístupový klíč' }).click();
    const alert = page.locator('#passkey-add [data-passkey-status]');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Současné heslo není správné/);
    assert.equal((await credentials()).length, 0, 'no ceremony ran');
    await checkA11y(page, 'passkey refused');
  });

  step('adding one with the password creates a discoverable credential', async () => {
    await page.getByLabel('Pro přidání klíče zadejte heslo').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Přidat přístupový klíč' }).click();
    await page.waitForURL((u) => u.pathname === '/account' && u.searchParams.get('notice') === 'passkey_added');
    assert.match(await page.getByRole('status').innerText(), /Přístupový klíč byl přidán/);
    const row = page.locator('#passkeys tbody tr');
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /Tento počítač/);
    const creds = await credentials();
    assert.equal(creds.length, 1);
    assert.equal(creds[0].isResidentCredential, true, 'a resident key (sign-in without a username)');
    assert.equal(creds[0].rpId, 'localhost');
    await checkA11y(page, 'account with a passkey');
    await screenshot(page, 'account-passkeys');
  });

  step('signs in with the passkey alone, without a username', async () => {
    await signOutEverywhere();
    await page.goto(server.tryUrl);
    const button = page.getByRole('button', { name: 'Přihlásit se přístupovým klíčem' });
    await button.waitFor();
    await checkA11y(page, 'login with a passkey button');
    await screenshot(page, 'login-passkey');
    await expectCode(() => button.click());
    const signCount = (await credentials())[0].signCount;
    assert.ok(signCount >= 1, `the authenticator signed (${signCount})`);
  });

  step('after the password, the passkey is the second factor', async () => {
    await signOutEverywhere();
    await page.goto(server.tryUrl);
    await page.getByLabel('Uživatelské jméno').fill(DEMO_USER);
    await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Přihlásit se', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/login/otp');
    const use = page.getByRole('button', { name: 'Použít přístupový klíč' });
    await use.waitFor();
    assert.equal(await page.getByLabel('Ověřovací kód').count(), 0, 'no TOTP, no code field');
    await checkA11y(page, 'second factor with a passkey');
    await screenshot(page, 'login-passkey-second-factor');
    await expectCode(() => use.click());
  });

  step('renaming and removing it (with the password)', async () => {
    await page.goto(`${server.base}/account`);
    await page.locator('#passkeys summary').click();
    await page.getByLabel('Nový název').fill('Služební notebook');
    await page.getByRole('button', { name: 'Přejmenovat' }).click();
    await page.waitForURL((u) => u.searchParams.get('notice') === 'passkey_renamed');
    assert.match(await page.locator('#passkeys').innerText(), /Služební notebook/);
    await page.locator('#passkeys summary').click();
    await checkA11y(page, 'passkey rename and removal forms');
    await screenshot(page, 'account-passkey-manage');
    await page.getByLabel('Pro odebrání klíče zadejte heslo').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Odebrat klíč' }).click();
    await page.waitForURL((u) => u.searchParams.get('notice') === 'passkey_removed');
    assert.equal(await page.locator('#passkeys').count(), 0);
    assert.match(await page.getByRole('region', { name: 'Přístupové klíče' }).innerText(), /Zatím nemáte/);
    await checkA11y(page, 'account after removal');
  });

  step('a removed passkey no longer signs in', async () => {
    await signOutEverywhere();
    await page.goto(server.tryUrl);
    await page.getByRole('button', { name: 'Přihlásit se přístupovým klíčem' }).click();
    // The authenticator still holds the credential; the server no longer knows it.
    const alert = page.getByRole('alert').first();
    await alert.waitFor();
    assert.match(await alert.innerText(), /Přístupový klíč nebyl přijat/);
    assert.equal(new URL(page.url()).pathname, '/login/passkey');
    await checkA11y(page, 'passkey refused at login');
    await screenshot(page, 'login-passkey-refused');
  });
});
