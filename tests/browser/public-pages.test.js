// The pages anyone sees before signing in: the login form in Czech and English (also with an
// error), the forgotten-password form and its answer, and an error page. Each is checked by
// axe-core against WCAG 2.1 AA and photographed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_USER,
  checkA11y,
  launchBrowser,
  newContext,
  screenshot,
  startServer,
} from './lib/harness.js';

describe('public pages', { timeout: 120_000 }, () => {
  let server;
  let browser;
  let context;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    context = await newContext(browser);
  });

  after(async () => {
    // Each step on its own, so a failure in one still runs the others.
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('login page in Czech: WCAG 2.1 AA, labelled fields, language switch', async () => {
    const page = await context.newPage();
    await page.goto(server.tryUrl);
    assert.match(new URL(page.url()).pathname, /^\/login$/);
    assert.equal(await page.getAttribute('html', 'lang'), 'cs');
    await page.getByRole('heading', { level: 1, name: 'Přihlášení' }).waitFor();
    // The fields are reachable by their labels (what a screen reader announces).
    await page.getByLabel('Uživatelské jméno').waitFor();
    await page.getByLabel('Heslo', { exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'English' }).getAttribute('lang'), 'en');
    await checkA11y(page, 'login (cs)');
    await screenshot(page, 'login-cs');
    await page.close();
  });

  it('login page in English (ui_locales=en)', async () => {
    const page = await context.newPage();
    await page.goto(`${server.tryUrl}&ui_locales=en`);
    assert.match(new URL(page.url()).pathname, /^\/login$/);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByLabel('Username').waitFor();
    await page.getByLabel('Password', { exact: true }).waitFor();
    await checkA11y(page, 'login (en)');
    await screenshot(page, 'login-en');
    await page.close();
  });

  it('login page after a wrong password: the error is announced and tied to the fields', async () => {
    const page = await context.newPage();
    await page.goto(server.tryUrl);
    await page.getByLabel('Uživatelské jméno').focus();
    await page.keyboard.type(DEMO_USER);
    await page.getByLabel('Heslo', { exact: true }).focus();
    await page.keyboard.type('Nespravne-heslo-123');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Nesprávné uživatelské jméno nebo heslo/);
    assert.equal(await page.getByLabel('Heslo', { exact: true }).getAttribute('aria-invalid'), 'true');
    await checkA11y(page, 'login with an error');
    await screenshot(page, 'login-error');
    await page.close();
  });

  it('forgotten password: the form and its answer', async () => {
    const page = await context.newPage();
    await page.goto(`${server.base}/password/forgot`);
    await page.getByRole('heading', { level: 1, name: 'Zapomenuté heslo' }).waitFor();
    await checkA11y(page, 'forgotten password');
    await screenshot(page, 'forgot');
    await page.getByLabel('Uživatelské jméno nebo e-mail').focus();
    await page.keyboard.type(DEMO_USER);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Zkontrolujte e-mail' }).waitFor();
    await checkA11y(page, 'forgotten password sent');
    await screenshot(page, 'forgot-sent');
    await page.close();
  });

  it('an error page (unknown client)', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${server.base}/authorize?client_id=nikdo`);
    assert.ok(response.status() >= 400, `status ${response.status()}`);
    await page.getByRole('heading', { level: 1, name: 'Chyba' }).waitFor();
    assert.match(await page.getByRole('alert').innerText(), /není u MPSV registrována/);
    await checkA11y(page, 'error page');
    await screenshot(page, 'error');
    await page.close();
  });

  it('the accessibility check itself catches a violation (harness self-check)', async () => {
    const page = await context.newPage();
    await page.goto(server.tryUrl);
    // Take the username field's label away: axe must report the unlabelled input.
    await page.evaluate(() => document.querySelector('label[for=username]').remove());
    await assert.rejects(checkA11y(page, 'login without a label'), /\blabel\b[\s\S]*#username/);
    await page.close();
  });
});
