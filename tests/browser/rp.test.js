// Issue 7, end to end in real Chromium: the IdP with the demo data and the two example
// relying parties (examples/poskytovatel.rs on 8091, examples/rodina.rs on 8092). Single
// sign-on from poskytovatel into rodina for an NNO in family support; refusal at rodina for a
// provider that is not one; Podat enabled for a statutory representative and a delegate,
// disabled for an employee; an operator ends the statutory role and the next submit is
// refused and both apps' sessions end by back-channel logout; logout in one app ends the SSO
// session. Runs on SQLite, and on PostgreSQL when MPSV_IDP_TEST_POSTGRES_URL is set.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_PASSWORD,
  demoSecret,
  launchBrowser,
  newContext,
  screenshot,
  startRp,
  startServer,
  totpCode,
  totpStep,
} from './lib/harness.js';

const POSKYTOVATEL = 'http://127.0.0.1:8091';
const RODINA = 'http://127.0.0.1:8092';

/** A fresh PostgreSQL database next to the one the test command started, if any. */
function postgresDatabase() {
  const url = process.env.MPSV_IDP_TEST_POSTGRES_URL;
  if (!url) return null;
  const name = `mpsv_e2e_${process.pid}_${Date.now()}`;
  execFileSync('psql', [url, '-q', '-c', `CREATE DATABASE ${name}`]);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

for (const db of ['sqlite', 'postgres']) {
  describe(`OKslužby end to end (${db})`, { timeout: 300_000 }, () => {
    let server;
    let browser;
    const rps = [];
    const shot = (page, name) => screenshot(page, db === 'sqlite' ? `e2e-${name}` : `e2e-${name}-pg`);

    before(async (t) => {
      let env = {};
      if (db === 'postgres') {
        const url = postgresDatabase();
        if (!url) {
          t.skip?.('MPSV_IDP_TEST_POSTGRES_URL is not set');
          return;
        }
        env = { MPSV_IDP_DATABASE_URL: url };
      }
      server = await startServer({ env });
      const out = server.output();
      rps.push(await startRp('poskytovatel', { issuer: server.base, secret: demoSecret(out, 'oksluzby-poskytovatel'), port: 8091 }));
      rps.push(await startRp('rodina', { issuer: server.base, secret: demoSecret(out, 'oksluzby-rodina'), port: 8092 }));
      browser = await launchBrowser();
    });

    after(async () => {
      await browser?.close().catch(() => {});
      for (const rp of rps) await rp.stop();
      rps.length = 0;
      await server?.stop();
    });

    const skipWithoutServer = (t) => {
      if (!server) {
        t.skip('no PostgreSQL configured');
        return true;
      }
      return false;
    };

    /** Opens an app's home page and signs in through the IdP's form. */
    async function signInAt(page, app, username) {
      await page.goto(`${app}/`);
      await page.click('#login');
      await page.getByLabel('Uživatelské jméno').fill(username);
      await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Přihlásit se' }).click();
      await page.waitForURL(`${app}/`);
    }

    it('an NNO employee signs in to poskytovatel, then opens rodina without a form', async (t) => {
      if (skipWithoutServer(t)) return;
      const context = await newContext(browser);
      const page = await context.newPage();
      await signInAt(page, POSKYTOVATEL, 'lukas.prochazka');
      assert.match(await page.textContent('#organisation'), /Šťastná rodina/);
      // The demo clients require PAR and DPoP: the app pushed its request, and its tokens are
      // bound to its key (the IdP answered token_type DPoP).
      assert.match(await page.textContent('#token-binding'), /^DPoP/);
      assert.equal(await page.isDisabled('#submit'), true, 'an employee may not submit');
      await shot(page, 'poskytovatel-employee');
      // rodina: the IdP answers from the SSO session, no login form on the way.
      const seen = [];
      page.on('framenavigated', (f) => { if (f === page.mainFrame()) seen.push(f.url()); });
      await page.goto(`${RODINA}/`);
      await page.click('#login');
      await page.waitForURL(`${RODINA}/`);
      assert.ok(!seen.some((u) => new URL(u).pathname.startsWith('/login')), `no login page: ${seen.join(' ')}`);
      assert.match(await page.textContent('#organisation'), /Šťastná rodina/);
      assert.match(await page.textContent('#apps'), /rodina/);
      await shot(page, 'rodina-sso');

      // Logout in one app ends the SSO session (and the other app's session by back-channel).
      await page.goto(`${POSKYTOVATEL}/`);
      await page.click('#logout');
      await page.waitForURL(`${POSKYTOVATEL}/`);
      assert.match(await page.textContent('main'), /Nejste přihlášeni/);
      await expectSignedOut(page, RODINA);
      await page.goto(`${RODINA}/`);
      await page.click('#login');
      await page.getByLabel('Uživatelské jméno').waitFor();
      await context.close();
    });

    it('a user of a provider that is not an NNO is refused at rodina with a clear page', async (t) => {
      if (skipWithoutServer(t)) return;
      const context = await newContext(browser);
      const page = await context.newPage();
      await page.goto(`${RODINA}/`);
      await page.click('#login');
      await page.getByLabel('Uživatelské jméno').fill('eva.cerna');
      await page.getByLabel('Heslo', { exact: true }).fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Přihlásit se' }).click();
      await page.getByRole('heading', { level: 1, name: 'Přístup do aplikace nemáte' }).waitFor();
      await shot(page, 'rodina-refused-idp');
      await page.getByRole('link', { name: 'Zpět do aplikace' }).click();
      await page.getByRole('heading', { level: 1, name: 'Přístup odepřen' }).waitFor();
      assert.match(await page.textContent('main'), /access_denied/);
      await shot(page, 'rodina-refused-app');
      await context.close();
    });

    it('Podat: enabled for the representative and the delegate; the role ends, submit is refused and both apps sign out', async (t) => {
      if (skipWithoutServer(t)) return;
      const boss = await newContext(browser);
      const bossPage = await boss.newPage();
      await signInAt(bossPage, POSKYTOVATEL, 'petr.dvorak');
      assert.equal(await bossPage.isDisabled('#submit'), false);
      assert.match(await bossPage.textContent('#submit-permission'), /statutární zástupce/);
      await shot(bossPage, 'poskytovatel-statutory');
      await bossPage.click('#submit');
      assert.match(await bossPage.textContent('#msg'), /Podání bylo odesláno/);
      // Refresh with DPoP (a new proof, the server's nonce), then submit on the new token.
      await bossPage.click('#refresh');
      assert.match(await bossPage.textContent('#msg'), /Tokeny obnoveny/);
      assert.match(await bossPage.textContent('#token-binding'), /^DPoP/);
      await bossPage.click('#submit');
      assert.match(await bossPage.textContent('#msg'), /Podání bylo odesláno/);
      // The representative also in rodina? Domov Slunce is not an NNO: refused there; the
      // second app of his session is poskytovatel's sibling for an NNO, so sign in to rodina
      // is not possible — both-app logout is checked with Marie Svobodová below.

      const delegate = await newContext(browser);
      const delegatePage = await delegate.newPage();
      await signInAt(delegatePage, POSKYTOVATEL, 'tomas.kral');
      assert.equal(await delegatePage.isDisabled('#submit'), false);
      assert.match(await delegatePage.textContent('#submit-permission'), /z pověření/);
      await shot(delegatePage, 'poskytovatel-delegate');

      const marie = await newContext(browser);
      const mariePage = await marie.newPage();
      await signInAt(mariePage, POSKYTOVATEL, 'marie.svobodova');
      await mariePage.goto(`${RODINA}/`);
      await mariePage.click('#login');
      await mariePage.waitForURL(`${RODINA}/`);
      assert.equal(await mariePage.isDisabled('#submit'), false);

      // An operator ends both statutory roles in the console.
      const operator = await newContext(browser);
      const op = await operator.newPage();
      await op.goto(`${server.base}/admin`);
      await op.getByLabel('Uživatelské jméno').fill('operator.demo');
      await op.getByLabel('Heslo', { exact: true }).fill('Demo-konzole-heslo-2026');
      await op.getByRole('button', { name: 'Přihlásit se' }).click();
      await op.waitForURL((u) => u.pathname === '/login/otp');
      await op.getByLabel(/kód/i).fill(totpCode('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', totpStep()));
      await op.keyboard.press('Enter');
      await op.waitForURL((u) => u.pathname === '/admin');
      for (const [name, org] of [['Petr Dvořák', 'Domov Slunce, o. p. s.'], ['Marie Svobodová', 'Šťastná rodina, z. ú.']]) {
        await op.goto(`${server.base}/admin/persons?q=${encodeURIComponent(name)}`);
        await op.getByRole('link', { name }).click();
        await op.getByRole('button', { name: `Ukončit funkci: ${org}` }).click();
        await op.getByLabel('Důvod').fill('konec funkčního období');
        await op.getByRole('button', { name: 'Ukončit funkci' }).click();
        await op.getByText('Funkce statutárního zástupce byla ukončena.').waitFor();
      }
      await shot(op, 'console-role-ended');

      // The delegate's next submit is refused (checked at the IdP at the moment of submitting).
      await delegatePage.click('#submit');
      assert.match(await delegatePage.textContent('#msg'), /Podání odmítnuto: nemáte oprávnění/);
      assert.equal(await delegatePage.isDisabled('#submit'), true, 'the page now shows the IdP\'s answer');
      await shot(delegatePage, 'poskytovatel-delegate-refused');
      // The ex-representatives are signed out of both applications (back-channel logout).
      await expectSignedOut(bossPage, POSKYTOVATEL);
      await expectSignedOut(mariePage, POSKYTOVATEL);
      await expectSignedOut(mariePage, RODINA);
      await shot(mariePage, 'rodina-signed-out');
      for (const c of [boss, delegate, marie, operator]) await c.close();
    });

    /** Reloads the app until its local session is gone (back-channel logout is asynchronous). */
    async function expectSignedOut(page, app) {
      for (let i = 0; i < 50; i++) {
        await page.goto(`${app}/`);
        if (/Nejste přihlášeni/.test(await page.textContent('main'))) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`${app} still shows a signed-in person`);
    }
  });
}
