// The staff console in real Chromium with the demo data: an operator records a new person's
// consent, creates the account and downloads the credentials letter, then ends a statutory
// role (with its confirmation); an administrator sees the clients, keys and audit log; an
// operator is kept out of the administrators' pages. Each page is checked by axe-core
// (WCAG 2.1 AA) and photographed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import {
  checkA11y,
  launchBrowser,
  newContext,
  screenshot,
  startServer,
  totpCode,
  totpStep,
} from './lib/harness.js';

const STAFF_PASSWORD = 'Demo-konzole-heslo-2026';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('staff console', { timeout: 240_000 }, () => {
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

  /** Opens /admin and signs in with password and TOTP (each account once per time step). */
  async function signIn(username) {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(new URL('/admin', server.base).toString());
    await page.getByLabel('Uživatelské jméno').fill(username);
    await page.getByLabel('Heslo', { exact: true }).fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: 'Přihlásit se' }).click();
    await page.waitForURL((u) => u.pathname === '/login/otp');
    await page.getByLabel(/kód/i).fill(totpCode(TOTP_SECRET, totpStep()));
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname === '/admin');
    await page.getByRole('heading', { level: 1, name: 'Konzole MPSV' }).waitFor();
    return { context, page };
  }

  it('an operator records a consent, creates the account with its letter, ends a statutory role', async () => {
    const { context, page } = await signIn('operator.demo');
    await checkA11y(page, 'console home (operator)');
    await screenshot(page, 'console-home');

    // The organisation, and a new person's consent.
    await page.getByRole('link', { name: 'Organizace' }).first().click();
    await page.getByRole('link', { name: 'Šťastná rodina, z. ú.' }).click();
    await page.getByRole('heading', { level: 1, name: 'Šťastná rodina, z. ú.' }).waitFor();
    await checkA11y(page, 'console organisation');
    await screenshot(page, 'console-organisation');
    await page.getByLabel('Jméno', { exact: true }).fill('Řehoř');
    await page.getByLabel('Příjmení').fill('Žďárský');
    await page.getByLabel('Formulář souhlasu').selectOption('rodina');
    await page.getByLabel('Podepsán dne').fill('2026-11-20');
    await page.getByLabel('Doručen MPSV dne').fill('2026-11-25');
    await page.getByLabel('Číslo jednací').fill('MPSV-12345/2026');
    await page.getByRole('button', { name: 'Zaznamenat souhlas' }).click();
    await page.getByText('Souhlas byl zaznamenán.').waitFor();
    await page.getByRole('heading', { level: 1, name: 'Řehoř Žďárský' }).waitFor();
    assert.match(await page.textContent('dl'), /MP\d{9}/);
    await checkA11y(page, 'console person');
    await screenshot(page, 'console-person');

    // The account, and the credentials letter downloaded at once.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Zřídit účet a stáhnout dopis (PDF)' }).click();
    const file = await (await download).path();
    assert.equal(readFileSync(file).subarray(0, 4).toString(), '%PDF');
    await page.reload();
    assert.match(await page.textContent('dl'), /rehor\.zdarsky/);

    // A statutory role ends, after a confirmation asking for the reason.
    await page.goto(new URL('/admin/persons?q=svobodova', server.base).toString());
    await page.getByRole('link', { name: 'Marie Svobodová' }).click();
    await page.getByRole('button', { name: 'Ukončit funkci: Šťastná rodina, z. ú.' }).click();
    await page.getByRole('heading', { level: 1, name: 'Potvrzení' }).waitFor();
    assert.match(await page.textContent('dl'), /Marie Svobodová[\s\S]*Šťastná rodina, z\. ú\./);
    await checkA11y(page, 'console confirmation');
    await screenshot(page, 'console-confirm-end-role');
    await page.getByLabel('Důvod').fill('odvolána valnou hromadou');
    await page.getByRole('button', { name: 'Ukončit funkci' }).click();
    await page.getByText('Funkce statutárního zástupce byla ukončena.').waitFor();
    assert.match(await page.textContent('main'), /Není statutárním zástupcem žádné organizace/);

    // Operators stay out of the administrators' pages.
    const r = await page.goto(new URL('/admin/clients', server.base).toString());
    assert.equal(r.status(), 403);
    await context.close();
  });

  it('an administrator sees clients, keys and the audit log', async () => {
    const { context, page } = await signIn('spravce.demo');
    await page.getByRole('link', { name: 'Aplikace (OAuth klienti)' }).first().click();
    await page.getByRole('link', { name: 'oksluzby-rodina' }).waitFor();
    await checkA11y(page, 'console clients');
    await screenshot(page, 'console-clients');
    await page.getByRole('link', { name: 'oksluzby-rodina' }).click();
    await page.getByLabel('Návratové adresy (redirect_uri)').fill('http://rodina.example.cz/cb');
    await page.getByRole('button', { name: 'Uložit' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /https/);
    await checkA11y(page, 'console client with an error');
    // Per client: authorization requests only through PAR (RFC 9126); the OKslužby demo
    // clients have it on. Off, saved, on again.
    const par = page.getByLabel('Žádosti o přihlášení jen předem odeslané serveru (PAR, RFC 9126)');
    assert.equal(await par.isChecked(), true);
    await par.uncheck();
    await page.getByRole('button', { name: 'Uložit' }).click();
    await page.waitForURL((u) => u.searchParams.get('notice') === 'saved');
    assert.equal(await par.isChecked(), false);
    await par.check();
    await page.getByRole('button', { name: 'Uložit' }).click();
    await page.waitForURL((u) => u.searchParams.get('notice') === 'saved');
    assert.equal(await par.isChecked(), true);
    await screenshot(page, 'console-client');
    // Signed request objects (RFC 9101) need the client's keys, which this one has none of.
    const signed = page.getByLabel('Žádosti o přihlášení jen jako objekty podepsané klíčem aplikace (JAR, RFC 9101)');
    await signed.check();
    await page.getByRole('button', { name: 'Uložit' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /JWK Set/);
    await screenshot(page, 'console-client-signed-requests');
    await page.goto(new URL('/admin/keys', server.base).toString());
    await checkA11y(page, 'console keys');
    await page.goto(new URL('/admin/settings', server.base).toString());
    assert.match(await page.textContent('table'), /password\.min_length_privileged/);
    // Where the keys are kept, and the request deadline (issue 12).
    assert.match(await page.textContent('table'), /keys\.store/);
    assert.match(await page.textContent('table'), /request_timeout/);
    await checkA11y(page, 'console settings');
    await screenshot(page, 'console-settings');
    await page.goto(new URL('/admin/audit?event=consent.recorded', server.base).toString());
    assert.match(await page.textContent('table'), /consent\.recorded/);
    await checkA11y(page, 'console audit');
    await screenshot(page, 'console-audit');
    // The back-channel logout outbox, by state.
    await page.getByRole('link', { name: 'Odhlašování v aplikacích' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Odhlašování v aplikacích' }).waitFor();
    await page.getByLabel('Stav').selectOption('given_up');
    await page.getByRole('button', { name: 'Filtrovat' }).click();
    await page.waitForURL((u) => u.searchParams.get('state') === 'given_up');
    await checkA11y(page, 'console deliveries');
    await screenshot(page, 'console-deliveries');
    // Administrators do not run the register.
    const r = await page.goto(new URL('/admin/persons', server.base).toString());
    assert.equal(r.status(), 403);
    await context.close();
  });
});
