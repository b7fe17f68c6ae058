// Signing in with the national eID end to end in Chromium, against a real, independent OpenID
// Provider (npm oidc-provider, configured as NIA: lib/upstream-op.js): the upstream's error
// (cancelled there), an identity linked to no one (a clear page, no account, a code for the
// operator), a refused link (wrong password), linking from the account page after a sign-in
// with the second factor, signing in with the national eID alone, and unlinking. axe-core on
// every page of ours; screenshots.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  CALLBACK,
  authorizationResponse,
  DEMO_PASSWORD,
  DEMO_USER,
  checkA11y,
  freePort,
  launchBrowser,
  newContext,
  screenshot,
  startServer,
  totpCode,
  totpStep,
} from './lib/harness.js';
import { startUpstreamOp } from './lib/upstream-op.js';

describe('national eID (upstream OpenID Provider)', { timeout: 180_000 }, () => {
  let server;
  let op;
  let browser;
  let context;
  let page;
  let secret;
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

  const NIA_BUTTON = 'Přihlásit se přes Identita občana';

  async function signInWithPassword(withCode) {
    await page.goto(server.tryUrl);
    await page.getByLabel('Uživatelské jméno').fill(DEMO_USER);
    await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
    if (!withCode) {
      await authorizationResponse(page, server.base, () =>
        page.getByRole('button', { name: 'Přihlásit se', exact: true }).click());
      return;
    }
    await page.getByRole('button', { name: 'Přihlásit se', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/login/otp');
    await page.getByLabel('Ověřovací kód').fill(totpCode(secret, totpStep() + 1));
    await authorizationResponse(page, server.base, () =>
      page.getByRole('button', { name: 'Ověřit' }).click());
  }

  async function signOutEverywhere() {
    await page.goto(`${server.base}/account`);
    await page.getByRole('button', { name: 'Odhlásit se ze všech aplikací' }).click();
    await page.getByText('Byli jste odhlášeni ze všech aplikací').waitFor();
  }

  before(async () => {
    const opPort = await freePort();
    const config = [
      '[[upstream]]',
      'id = "nia"',
      'name = "Identita občana"',
      `issuer = "http://127.0.0.1:${opPort}"`,
      'client_id = "mpsv-idp"',
      'client_secret = "upstream-secret"',
      '',
    ].join('\n');
    server = await startServer({ config });
    op = await startUpstreamOp({ port: opPort, redirectUri: `${server.base}/login/upstream/callback` });
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await op?.stop();
    await server?.stop();
  });

  step('cancelling at the upstream comes back to the login page with a message', async () => {
    await page.goto(server.tryUrl);
    await checkA11y(page, 'login with the national eID button');
    await page.getByRole('button', { name: NIA_BUTTON }).click();
    await page.getByRole('heading', { name: 'Identita občana (testovací)' }).waitFor();
    await page.getByRole('button', { name: 'Zrušit' }).click();
    await page.waitForURL((u) => u.origin === server.base && u.pathname === '/login/upstream/callback');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /národní identitu se nezdařilo/);
    await checkA11y(page, 'upstream sign-in failed');
  });

  step('an identity linked to no one gets a clear page and a code, and no account', async () => {
    await page.getByRole('button', { name: NIA_BUTTON }).click();
    await page.getByRole('button', { name: 'Přihlásit' }).click();
    await page.getByRole('heading', { level: 1, name: 'Identita zatím není propojena s účtem' }).waitFor();
    assert.match(await page.locator('#link-code').innerText(), /^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
    await checkA11y(page, 'unlinked identity');
    await screenshot(page, 'upstream-unlinked');
    const r = await page.request.get(`${server.base}/account`, { maxRedirects: 0 });
    assert.equal(r.status(), 303, 'not signed in');
  });

  step('with a password-only session the account page asks for the second factor first', async () => {
    await signInWithPassword(false);
    await page.goto(`${server.base}/account`);
    const region = page.getByRole('region', { name: 'Národní identita' });
    await region.waitFor();
    assert.match(await region.innerText(), /jen po přihlášení s druhým faktorem/);
    // Turn on TOTP, then sign in again with it.
    await page.getByRole('link', { name: 'Zapnout ověřovací aplikaci' }).click();
    secret = (await page.locator('code.secret').innerText()).replace(/\s/g, '');
    await page.getByLabel('Ověřovací kód').fill(totpCode(secret, totpStep()));
    await page.getByRole('button', { name: 'Ověřit a zapnout' }).click();
    await page.getByRole('button', { name: 'Kódy mám uložené, pokračovat' }).click();
    await signOutEverywhere();
    await signInWithPassword(true);
  });

  step('a link with the wrong password is refused', async () => {
    await page.goto(`${server.base}/account`);
    await page.getByLabel('Pro propojení zadejte heslo').fill('špatné heslo');
    await page.getByRole('button', { name: 'Propojit s: Identita občana' }).click();
    await page.getByText('Současné heslo není správné').waitFor();
    await checkA11y(page, 'link refused');
  });

  step('linking with the password goes to the upstream and back', async () => {
    await page.goto(`${server.base}/account`);
    await page.getByLabel('Pro propojení zadejte heslo').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Propojit s: Identita občana' }).click();
    // The upstream remembers the person from the earlier step: straight back.
    await page.waitForURL((u) => u.origin === server.base && u.searchParams.get('notice') === 'upstream_linked');
    assert.match(await page.getByRole('status').innerText(), /byla propojena/);
    assert.match(await page.locator('#upstream-nia-state').innerText(), /Propojeno/);
    await checkA11y(page, 'account with a linked identity');
    await screenshot(page, 'account-upstream');
  });

  step('the national eID alone signs in', async () => {
    await signOutEverywhere();
    await page.goto(server.tryUrl);
    const url = await authorizationResponse(page, server.base, () =>
      page.getByRole('button', { name: NIA_BUTTON }).click());
    assert.equal(`${url.origin}${url.pathname}`, CALLBACK);
    assert.equal(url.searchParams.get('error'), null, url.searchParams.get('error_description') ?? '');
    assert.match(url.searchParams.get('code') ?? '', /^[\w-]{16,}$/);
  });

  step('unlinking with the password', async () => {
    await page.goto(`${server.base}/account`);
    await page.getByLabel('Pro zrušení propojení zadejte heslo').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Zrušit propojení s: Identita občana' }).click();
    await page.waitForURL((u) => u.searchParams.get('notice') === 'upstream_unlinked');
    assert.match(await page.locator('#upstream-nia-state').innerText(), /Nepropojeno/);
    await checkA11y(page, 'account after unlinking');
  });

  step('an operator links the identity with the code the person was shown', async () => {
    await signOutEverywhere();
    await page.goto(server.tryUrl);
    await page.getByRole('button', { name: NIA_BUTTON }).click();
    await page.getByRole('heading', { level: 1, name: 'Identita zatím není propojena s účtem' }).waitFor();
    const code = await page.locator('#link-code').innerText();

    const staff = await newContext(browser);
    const console_ = await staff.newPage();
    await console_.goto(`${server.base}/admin`);
    await console_.getByLabel('Uživatelské jméno').fill('operator.demo');
    await console_.getByLabel('Heslo', { exact: true }).fill('Demo-konzole-heslo-2026');
    await console_.getByRole('button', { name: 'Přihlásit se', exact: true }).click();
    await console_.waitForURL((u) => u.pathname === '/login/otp');
    await console_.getByLabel(/kód/i).fill(totpCode('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', totpStep()));
    await console_.keyboard.press('Enter');
    await console_.waitForURL((u) => u.pathname === '/admin');
    await console_.goto(`${server.base}/admin/persons?q=novakova`);
    await console_.getByRole('link', { name: 'Jana Nováková' }).first().click();
    await console_.getByLabel('Kód, který osobě ukázala stránka po přihlášení').fill(code.toLowerCase());
    await console_.getByRole('button', { name: 'Ověřit kód' }).click();
    // The operator compares what the upstream said before confirming.
    await console_.getByText('Jana Nováková, 1980-04-02').waitFor();
    await checkA11y(console_, 'console: confirm the link');
    await screenshot(console_, 'console-upstream-link');
    await console_.getByRole('button', { name: 'Ano, provést' }).click();
    await console_.getByText('Osoba byla propojena s národní identitou').waitFor();
    await checkA11y(console_, 'console: person with a link');
    await staff.close();

    await page.goto(server.tryUrl);
    const url = await authorizationResponse(page, server.base, () =>
      page.getByRole('button', { name: NIA_BUTTON }).click());
    assert.match(url.searchParams.get('code') ?? '', /^[\w-]{16,}$/, url.searchParams.get('error') ?? '');
  });
});
