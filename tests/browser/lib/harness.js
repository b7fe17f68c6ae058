// Shared helpers for the browser tests: start the IdP binary on a free port, launch headless
// Chromium, run axe-core, take screenshots, compute TOTP codes. Every wait here is bounded.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** tests/browser */
export const suiteDir = resolve(here, '..');
/** The repository root. */
export const repoDir = resolve(suiteDir, '..', '..');

export const BIN = resolve(suiteDir, process.env.MPSV_IDP_BIN || '../../target/debug/mpsv-idp');
export const SCREENSHOTS = resolve(
  suiteDir,
  process.env.MPSV_IDP_SCREENSHOTS || join(repoDir, 'target', 'screenshots'),
);
export const CHROMIUM = process.env.MPSV_IDP_CHROMIUM || '/usr/bin/chromium';

export const DEMO_USER = 'demo.uzivatel';
export const DEMO_PASSWORD = 'Demo-heslo-2026';
/** Where the demo client is sent back to; nothing listens there, the tests intercept it. */
export const CALLBACK = 'http://127.0.0.1:8081/callback';

/** Milliseconds any single browser action or navigation may take. */
export const STEP_TIMEOUT = 15_000;
/** Milliseconds the server may take to print its demo URL and answer /healthz. */
const START_TIMEOUT = 30_000;

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const AXE_SOURCE = readFileSync(AXE_PATH, 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `mpsv-idp serve --demo` in a fresh temporary folder.
 * `config` (optional) is TOML written to a file passed with `--config`. `host` names the
 * issuer (`localhost` for passkeys: WebAuthn refuses IP addresses); it listens on 127.0.0.1.
 * Returns { base, tryUrl, stop(), output(), env, dir }: `env` and `dir` let a test run the
 * command line against the same database (`cli`).
 */
export async function startServer({ config, env: extraEnv = {}, host = '127.0.0.1' } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'mpsv-idp-browser-'));
  const port = await freePort();
  const base = `http://${host}:${port}`;
  const args = [];
  if (config) {
    const file = join(tmp, 'mpsv-idp.toml');
    writeFileSync(file, config);
    args.push('--config', file);
  }
  args.push('serve', '--demo');
  // Only our settings: no MPSV_IDP_* from the caller's environment (MPSV_IDP_CONFIG, TTLs, …).
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MPSV_IDP_')),
  );
  const env = {
    ...inherited,
    MPSV_IDP_BIND: `127.0.0.1:${port}`,
    MPSV_IDP_ISSUER: base,
    MPSV_IDP_DATABASE_URL: `sqlite://${tmp}/idp.db?mode=rwc`,
    MPSV_IDP_KEY_DIR: join(tmp, 'keys'),
    MPSV_IDP_MAIL_FOLDER: join(tmp, 'mail'),
    RUST_LOG: process.env.RUST_LOG || 'warn',
    ...extraEnv,
  };
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited = null;
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exitPromise = new Promise((r) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    r();
  }));
  child.on('error', (e) => { out += `\nspawn error: ${e.message}`; exited = exited || { code: -1 }; });
  // If the test process ends without running its hooks (an uncaught error, or the runner
  // stopping it), do not leave the server behind.
  const onExit = () => {
    if (!exited) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (signal) => { onExit(); process.exit(signal === 'SIGINT' ? 130 : 143); };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exitPromise, sleep(5_000)]);
      if (!exited) {
        child.kill('SIGKILL');
        await Promise.race([exitPromise, sleep(5_000)]);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + START_TIMEOUT;
    let tryUrl = null;
    let healthy = false;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`mpsv-idp exited early (${JSON.stringify(exited)})`);
      tryUrl ??= out.match(/^\s*try:\s+(\S+)\s*$/m)?.[1] ?? null;
      if (!healthy) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
          healthy = r.status === 200;
        } catch {
          // not up yet
        }
      }
      if (healthy && tryUrl) return { base, tryUrl, stop, output: () => out, env, dir: tmp };
      await sleep(100);
    }
    throw new Error(`mpsv-idp did not start within ${START_TIMEOUT} ms (healthy: ${healthy}, try line: ${!!tryUrl})`);
  } catch (e) {
    await stop();
    e.message += `\nbinary: ${BIN}\nserver output:\n${out}`;
    throw e;
  }
}

/** Headless Debian Chromium through Playwright (no browser download). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A browser context with a fixed viewport. The relying party's address is routed to a stub so
 * that no real server there is ever loaded; note that Playwright does not route the redirect
 * hop itself (see expectCallback in account.test.js), only later loads of that address.
 */
export async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, locale: 'cs-CZ' });
  context.setDefaultTimeout(STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  await context.route('http://127.0.0.1:8081/**', (r) =>
    r.fulfill({ status: 200, contentType: 'text/plain', body: 'rp' }),
  );
  return context;
}

/** Formats axe violations so a failing assertion says what and where. */
export function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `    at ${n.target.join(' ')}\n      ${n.html}\n      ${(n.failureSummary || '').replace(/\n/g, '\n      ')}`)
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.tags.filter((t) => t.startsWith('wcag')).join(', ')})\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

/** Runs axe-core (WCAG 2.0/2.1 A and AA) on the page; throws with a readable list on any violation. */
export async function checkA11y(page, label) {
  // Not page.addScriptTag: it inserts an inline <script>, which the pages' own CSP
  // (script-src 'self') rightly blocks. Evaluating the source through the DevTools protocol is
  // not subject to CSP, so the pages are tested exactly as served (no bypassCSP).
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(AXE_SOURCE);
  }
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    WCAG_TAGS,
  );
  // Guard against a silent no-op (wrong tags, axe not loaded): some rules must have passed.
  if (result.passes.length === 0) {
    throw new Error(`axe ran no passing rule on ${label}: is axe-core working?`);
  }
  if (result.violations.length > 0) {
    throw new Error(
      `axe: ${result.violations.length} WCAG 2.1 AA violation(s) on ${label} (${page.url()}):\n${formatViolations(result.violations)}`,
    );
  }
  return result;
}

/** The screenshots that are also kept in docs/screenshots (see copy-screenshots.js). */
export const DOC_SCREENSHOTS = [
  'login-cs', 'login-en', 'account', 'password-change',
  'totp-enrol', 'recovery-codes', 'login-otp', 'forgot',
  'organisation-choice', 'access-denied', 'account-organisations', 'delegations',
  'console-home', 'console-organisation', 'console-person', 'console-confirm-end-role',
  'console-clients', 'console-audit',
  'account-passkeys', 'login-passkey', 'login-passkey-second-factor', 'mfa-required',
  'upstream-unlinked', 'account-upstream', 'console-upstream-link',
];

/** A full-page screenshot into the screenshot folder as `<name>.png`. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  // Keep the caret and any transition out of the picture so shots are comparable.
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}

/** RFC 4648 base32 (spaces, case and padding ignored). */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 30-second time step (RFC 6238, T0 = 0) that `ms` (Unix milliseconds) falls in. */
export const totpStep = (ms = Date.now()) => Math.floor(ms / 1000 / 30);

/** The 6-digit TOTP code (RFC 6238 with HMAC-SHA1, RFC 4226 §5.3 truncation) for a step. */
export function totpCode(secretBase32, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** The example relying parties (examples/poskytovatel.rs, examples/rodina.rs), built by `cargo test --all-targets`. */
export const EXAMPLES = resolve(BIN, '..', 'examples');

/**
 * Starts an example relying party against `issuer` on its fixed demo port (the demo clients'
 * redirect URIs name 8091 and 8092). Returns { base, stop(), output() }.
 */
export async function startRp(name, { issuer, secret, port }) {
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(join(EXAMPLES, name), [], {
    env: { ...process.env, IDP_ISSUER: issuer, RP_CLIENT_SECRET: secret, RP_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = null;
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exitPromise = new Promise((r) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; r(); });
    // e.g. the binary is missing: say so instead of waiting for it to answer.
    child.on('error', (e) => { exited = { error: e.message }; r(); });
  });
  const onExit = () => { if (!exited) child.kill('SIGKILL'); };
  process.on('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exitPromise, sleep(5_000)]);
      if (!exited) child.kill('SIGKILL');
    }
  };
  const deadline = Date.now() + START_TIMEOUT;
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const r = await fetch(`${base}/`, { signal: AbortSignal.timeout(2_000) });
      if (r.status === 200) return { base, stop, output: () => out };
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${name} did not start (${JSON.stringify(exited)}):\n${out}`);
}

/** The client secret `serve --demo` printed for a client. */
export function demoSecret(output, clientId) {
  const m = output.match(new RegExp(`^\\s*${clientId}\\s+secret\\s+(\\S+)`, 'm'));
  if (!m) throw new Error(`no secret for ${clientId} in:\n${output}`);
  return m[1];
}

/**
 * Runs `submit` on `page` and returns the authorization response URL the IdP sends the
 * browser to (a navigation to CALLBACK). Playwright does not route redirect hops (by design,
 * microsoft/playwright#3994), so the response is read off the navigation request itself and
 * nothing needs to listen on the callback port. With nothing there, Chromium shows its
 * network-error page: this waits until that (or the callback page) has loaded, so the next
 * navigation is not interrupted by it.
 */
export async function authorizationResponse(page, base, submit) {
  const request = page.waitForRequest(
    (r) => r.isNavigationRequest() && r.url().startsWith(`${CALLBACK}?`),
    { timeout: STEP_TIMEOUT },
  );
  const left = page.waitForEvent('framenavigated', {
    predicate: (f) => f === page.mainFrame() && !f.url().startsWith(base),
    timeout: STEP_TIMEOUT,
  });
  await submit();
  const url = new URL((await request).url());
  await left;
  await page.waitForLoadState('load');
  return url;
}

/**
 * Runs `mpsv-idp <args>` against a server's database and configuration (e.g. `client add`);
 * returns its standard output, throws with the output if it fails.
 */
export function cli(server, args) {
  const r = spawnSync(BIN, args, { env: server.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mpsv-idp ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
