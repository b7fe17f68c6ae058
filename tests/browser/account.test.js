// One person's way through the account pages in a real browser: sign in with the keyboard,
// the account page, a refused and then an accepted password change, enrolling an
// authenticator app (TOTP) and its recovery codes, signing out everywhere, and signing in
// again with the second factor. Every page is checked by axe-core against WCAG 2.1 AA and
// photographed. The steps build on each other: after the first failure the rest are skipped.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  CALLBACK,
  authorizationResponse,
  DEMO_PASSWORD,
  DEMO_USER,
  STEP_TIMEOUT,
  checkA11y,
  launchBrowser,
  newContext,
  screenshot,
  startServer,
  totpCode,
  totpStep,
} from './lib/harness.js';

const NEW_PASSWORD = 'Nové-heslo-pro-test-2027';

// The demo account's password was set a moment ago; MPSV's rule refuses another change within
// 30 minutes. Allow it at once so the successful change can be tested.
const CONFIG = '[password]\nmin_change_interval_minutes = 0\n';

describe('account pages', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  let broken = false;

  /** A step of the story; skipped once an earlier one failed. */
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

  /** Types the credentials with the keyboard (focus by label, type, Enter) on /login. */
  async function typeCredentials(password) {
    await page.getByLabel('Uživatelské jméno').focus();
    await page.keyboard.type(DEMO_USER);
    await page.getByLabel('Heslo', { exact: true }).focus();
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
  }

  /** Runs `submit` and checks the authorization response it sends the browser to. */
  async function expectCallback(submit) {
    const url = await authorizationResponse(page, server.base, submit);
    assert.equal(`${url.origin}${url.pathname}`, CALLBACK);
    assert.equal(url.searchParams.get('error'), null, url.searchParams.get('error_description') ?? '');
    assert.match(url.searchParams.get('code') ?? '', /^[\w-]{16,}$/, 'an authorization code');
    assert.equal(url.searchParams.get('iss'), server.base, 'iss (RFC 9207)');
    assert.equal(url.searchParams.has('state'), false, 'the demo request has no state');
  }

  before(async () => {
    server = await startServer({ config: CONFIG });
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  step('signs in with the keyboard and returns to the application with a code', async () => {
    await page.goto(server.tryUrl);
    assert.equal(new URL(page.url()).pathname, '/login');
    await expectCallback(() => typeCredentials(DEMO_PASSWORD));
  });

  step('account page', async () => {
    await page.goto(`${server.base}/account`);
    await page.getByRole('heading', { level: 1, name: 'Můj účet' }).waitFor();
    const main = await page.locator('main').innerText();
    assert.match(main, /Jana Nováková/);
    assert.match(main, new RegExp(DEMO_USER.replace('.', '\\.')));
    assert.match(main, /Druhý faktor|vypnut/);
    await checkA11y(page, 'account');
    await screenshot(page, 'account');
  });

  step('account page reflows at 320 CSS pixels (WCAG 1.4.10)', async () => {
    const size = page.viewportSize();
    await page.setViewportSize({ width: 320, height: 640 });
    // The sessions and organisations tables are two-dimensional data tables (the criterion's
    // exception; the latter scrolls inside its own .table-wrap); the rest of the page must not
    // scroll sideways.
    const overflow = await page.evaluate(() =>
      [...document.querySelectorAll('main > section > :not(table):not(.table-wrap), main > h1, header.site')]
        .filter((el) => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > 321)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${Math.round(el.getBoundingClientRect().right)}px`),
    );
    assert.deepEqual(overflow, [], `content wider than 320 px: ${overflow.join(', ')}`);
    await screenshot(page, 'account-320px');
    await page.setViewportSize(size);
  });

  step('password change: a too-short password is refused with an announced list', async () => {
    await page.getByRole('link', { name: 'Změnit heslo' }).click();
    await page.waitForURL((u) => u.pathname === '/account/password');
    await page.getByRole('heading', { level: 1 }).waitFor();
    await checkA11y(page, 'password change form');
    await page.getByLabel('Současné heslo').focus();
    await page.keyboard.type(DEMO_PASSWORD);
    await page.getByLabel('Nové heslo', { exact: true }).focus();
    await page.keyboard.type('krátké');
    await page.getByLabel('Nové heslo znovu').focus();
    await page.keyboard.type('krátké');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /alespoň 12 znaků/);
    assert.ok((await alert.locator('li').count()) >= 1, 'the reasons are a list');
    assert.equal(await page.getByLabel('Nové heslo', { exact: true }).getAttribute('aria-invalid'), 'true');
    await checkA11y(page, 'password change with errors');
    await screenshot(page, 'password-change');
  });

  step('password change: a good password is accepted', async () => {
    await page.getByLabel('Současné heslo').fill(DEMO_PASSWORD);
    await page.getByLabel('Nové heslo', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Nové heslo znovu').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Uložit heslo' }).click();
    await page.waitForURL((u) => u.pathname === '/account' && u.searchParams.get('notice') === 'password');
    assert.match(await page.getByRole('status').innerText(), /Heslo bylo změněno/);
    await checkA11y(page, 'account after the password change');
    await screenshot(page, 'account-password-changed');
  });

  let secret;

  step('TOTP enrolment page', async () => {
    await page.getByRole('link', { name: 'Zapnout ověřovací aplikaci' }).click();
    await page.waitForURL((u) => u.pathname === '/account/totp');
    await page.getByRole('heading', { level: 1, name: 'Nastavení ověřovací aplikace' }).waitFor();
    const qr = page.getByRole('img', { name: 'QR kód pro ověřovací aplikaci' });
    await qr.waitFor();
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code renders');
    secret = (await page.locator('code.secret').innerText()).replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{16,}=*$/);
    await checkA11y(page, 'TOTP enrolment');
    await screenshot(page, 'totp-enrol');
  });

  step('TOTP enrolment with a code computed from the secret shows the recovery codes', async () => {
    await page.getByLabel('Ověřovací kód').focus();
    await page.keyboard.type(totpCode(secret, totpStep()));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Záložní kódy' }).waitFor();
    const codes = await page.locator('ul.codes li').allInnerTexts();
    assert.ok(codes.length >= 5, `recovery codes: ${codes.length}`);
    await checkA11y(page, 'recovery codes');
    await screenshot(page, 'recovery-codes');
  });

  step('continuing shows the account with the authenticator app on', async () => {
    await page.getByRole('button', { name: 'Kódy mám uložené, pokračovat' }).click();
    await page.waitForURL((u) => u.pathname === '/account' && u.searchParams.get('notice') === 'totp');
    assert.match(await page.getByRole('status').innerText(), /Ověřovací aplikace je zapnuta/);
    assert.match(await page.locator('main').innerText(), /ověřovací aplikace zapnuta/);
    await checkA11y(page, 'account with TOTP');
    await screenshot(page, 'account-totp');
  });

  step('an application asking for the MFA level gets a step-up: only the code, with the reason', async () => {
    // The session is a password one; the account has a second factor now.
    const url = new URL(server.tryUrl);
    url.searchParams.set('acr_values', 'urn:mpsv:idp:acr:mfa');
    await page.goto(url.href);
    await page.waitForURL((u) => u.pathname === '/login/otp');
    assert.match(await page.locator('#otp-why').innerText(), /vyžaduje ověření druhým faktorem/);
    await checkA11y(page, 'step-up');
    await screenshot(page, 'login-step-up');
    await page.goto(`${server.base}/account`);
  });

  step('signing out of every application', async () => {
    await page.getByRole('button', { name: 'Odhlásit se ze všech aplikací' }).click();
    await page.getByText('Byli jste odhlášeni ze všech aplikací').waitFor();
    await checkA11y(page, 'signed out');
    await screenshot(page, 'logout');
    await page.close();
  });

  step('signing in again asks for the second factor', async () => {
    page = await context.newPage();
    await page.goto(server.tryUrl);
    assert.equal(new URL(page.url()).pathname, '/login', 'the session has ended');
    await typeCredentials(NEW_PASSWORD);
    await page.waitForURL((u) => u.pathname === '/login/otp');
    await page.getByRole('heading', { level: 1, name: 'Ověření druhým faktorem' }).waitFor();
    await checkA11y(page, 'OTP login');
    await screenshot(page, 'login-otp');
  });

  step('a wrong code is refused with an announced error', async () => {
    const now = totpStep();
    const valid = new Set([now - 1, now, now + 1, now + 2].map((s) => totpCode(secret, s)));
    const wrong = ['000000', '111111', '222222'].find((c) => !valid.has(c));
    await page.getByLabel('Ověřovací kód').focus();
    await page.keyboard.type(wrong);
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Kód není správný/);
    await checkA11y(page, 'OTP login with an error');
    await screenshot(page, 'login-otp-error');
  });

  step('the code of the next time step completes the sign-in', async () => {
    // The current step's code was spent at enrolment (each step works once); the server
    // accepts one step of clock skew either way, so the next step's code is valid now.
    await page.getByLabel('Ověřovací kód').focus();
    await page.keyboard.type(totpCode(secret, totpStep() + 1));
    await expectCallback(() => page.keyboard.press('Enter'));
  });
});
