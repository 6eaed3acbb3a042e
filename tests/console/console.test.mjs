// The administrator console end to end: a real `tokend serve` on loopback with a fresh store,
// driven through Debian's headless Chromium with playwright-core.
//
//   TOKEND_BIN=build/debug/tokend node --test tests/console/
//
// Screenshots of the main screens go to $TOKEND_TEST_OUTPUT/screenshots (default
// build/test-output/screenshots).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bearerClient, dateFromToday, loginAdmin, request, startTokend } from '../lib/tokend.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
// playwright-core is a devDependency of the console.
const require = createRequire(path.join(repo, 'console/package.json'));
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.TOKEND_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.TOKEND_TEST_OUTPUT
  ? path.join(process.env.TOKEND_TEST_OUTPUT, 'screenshots')
  : path.join(repo, 'build/test-output/screenshots');

// Chromium logs refused requests (4xx) to the console; those are the app working as designed
// (a 422 shown at its field). Everything else logged as an error fails the run.
const EXPECTED_NETWORK_ERROR = /Failed to load resource: the server responded with a status of (401|404|409|422)/;

let server;
let admin; // API client with the admin's session (setup and checks)
let context;
let page;
let profileDir;
const consoleErrors = [];
const fx = {}; // fixtures: ids of departments, user types, users

async function shot(name, p = page) {
  mkdirSync(SHOTS, { recursive: true });
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function verify(token) {
  return (await bearerClient(server, token).get('/auth/verify')).status;
}

async function createApiToken(name, extra = {}) {
  const res = await admin.post('/api/v1/tokens', {
    name,
    expires_at: dateFromToday(30),
    user_id: fx.alice.id,
    department_id: fx.engineering.id,
    user_type_id: fx.member.id,
    ...extra,
  });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

function localDate(daysAhead) {
  const d = new Date();
  const t = new Date(d.getFullYear(), d.getMonth(), d.getDate() + daysAhead);
  const pad = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
}

/** Opens a page of the console, reloading when only the hash would change (fresh data). */
async function open(hash) {
  const target = `${server.url}/${hash}`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
}

async function openList(kind = 'api') {
  await open(`#/tokens/${kind}`);
  await page.getByRole('tab', { name: kind === 'api' ? 'API Tokens' : 'Mobile Users Logged In' }).waitFor();
  await page.locator('.loading').waitFor({ state: 'detached' });
}

async function labelsOfDetails() {
  await page.locator('dl.details dt').first().waitFor();
  return page.locator('dl.details dt').allTextContents();
}

before(async () => {
  server = await startTokend();
  admin = await loginAdmin(server);

  const depts = await admin.get('/api/v1/departments');
  assert.equal(depts.status, 200, depts.text);
  fx.root = depts.json.items.find((d) => d.parent_id === null);
  const types = await admin.get('/api/v1/user-types');
  fx.member = types.json.items.find((t) => t.name === 'Member');
  fx.administrator = types.json.items.find((t) => t.name === 'Administrator');
  assert.ok(fx.root && fx.member && fx.administrator, 'bootstrap created the root and both user types');
  const eng = await admin.post('/api/v1/departments', { name: 'Engineering', parent_id: fx.root.id });
  assert.equal(eng.status, 201, eng.text);
  fx.engineering = eng.json;
  fx.alicePassword = 'Alice-pass-123456';
  const alice = await admin.post('/api/v1/users', {
    username: 'alice',
    email: 'alice@example.com',
    display_name: 'Alice Liddell',
    password: fx.alicePassword,
    memberships: [{ department_id: fx.engineering.id, user_type_id: fx.member.id }],
  });
  assert.equal(alice.status, 201, alice.text);
  fx.alice = alice.json;

  profileDir = mkdtempSync(path.join(os.tmpdir(), 'tokend-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
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
    viewport: { width: 1366, height: 860 },
    timezoneId: 'UTC',
    locale: 'en-GB',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !EXPECTED_NETWORK_ERROR.test(msg.text())) consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('dialog', (d) => {
    consoleErrors.push(`unexpected dialog: ${d.message()}`);
    void d.dismiss();
  });
});

after(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  await server?.stop();
});

describe('console', () => {
  it('serves the console with a strict CSP and no inline script or style', async () => {
    const res = await request(server.url, 'GET', '/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.doesNotMatch(res.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline <script>');
    assert.doesNotMatch(res.text, /<style|style=/, 'no inline style');
  });

  it('signs in from the sign-in page', async () => {
    await page.goto(server.url);
    const tenant = page.getByLabel('Tenant');
    await tenant.waitFor();
    assert.equal(await tenant.inputValue(), 'default');
    await shot('sign-in');

    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The tenant, username or password is not correct.').waitFor();

    await page.getByLabel('Password').fill(server.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('tab', { name: 'API Tokens' }).waitFor();
    await page.getByText('No API tokens yet').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.getByRole('heading', { name: 'Administrator' }).count(), 1);
    for (const item of ['Tokens', 'Users', 'Departments', 'User Types', 'Audit']) {
      assert.equal(await nav.getByRole('link', { name: item, exact: true }).count(), 1, item);
    }
  });

  it('creates an API token through the form, shows it once, and lists it', async () => {
    await page.getByRole('link', { name: 'Create API Token' }).first().click();
    await page.getByRole('heading', { name: 'Create API Token' }).waitFor();
    assert.equal(await page.getByLabel('Expiry Date').inputValue(), localDate(90), 'default expiry is today + 90 days');
    await page.getByText('Grant the token only the minimal permissions the integration needs.').waitFor();

    await page.getByLabel('Token Name').fill('Payroll export');
    await page.getByLabel('Description').fill('Nightly export to the payroll system');
    await page.getByLabel('Search users').fill('ali');
    const userSelect = page.getByLabel('Select User');
    await page.locator(`select[name="user_id"] option[value="${fx.alice.id}"]`).waitFor({ state: 'attached' });
    await userSelect.selectOption(fx.alice.id);
    const membership = page.getByLabel('Select Department & User Type');
    const options = await membership.locator('option').allTextContents();
    assert.deepEqual(options.slice(1), ['Engineering — Member'], 'only the combinations alice holds');
    assert.equal(await membership.inputValue(), `${fx.engineering.id}|${fx.member.id}`, 'a single combination is preselected');
    await shot('create-form');

    await page.getByRole('button', { name: 'Save' }).click();
    const secretInput = page.getByLabel('New API token', { exact: true });
    await secretInput.waitFor();
    const secret = await secretInput.inputValue();
    assert.match(secret, /^tka_[0-9A-Za-z]{49}$/);
    await page.getByText('store it somewhere safe').waitFor();
    await page.getByRole('button', { name: 'Copy the new API token' }).click();
    await page.getByRole('button', { name: 'Copy the new API token' }).getByText('Copied').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await shot('create-done');
    assert.equal(await verify(secret), 204, 'the new token authenticates');
    fx.payrollSecret = secret;

    await page.getByRole('link', { name: 'Back to API Tokens' }).click();
    const row = page.locator('tbody tr', { hasText: 'Payroll export' });
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.ok(cells.some((c) => c.includes('Alice Liddell')), cells.join(' | '));
    assert.ok(cells.includes('Engineering') && cells.includes('Member'), cells.join(' | '));
    assert.ok(cells.includes('Never'), 'Last Used reads Never');
  });

  it('shows validation errors at their fields and keeps what was typed', async () => {
    await openList('api');
    await page.getByRole('link', { name: 'Create API Token' }).first().click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Enter a token name.').waitFor();
    assert.equal(await page.getByLabel('Token Name').getAttribute('aria-invalid'), 'true');

    await page.getByLabel('Token Name').fill('Too long');
    await page.locator(`select[name="user_id"] option[value="${fx.alice.id}"]`).waitFor({ state: 'attached' });
    await page.getByLabel('Select User').selectOption(fx.alice.id);
    const expiry = page.getByLabel('Expiry Date');
    await expiry.fill(localDate(800));
    await page.getByText('This is more than 12 months away.', { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Save' }).click();
    // The server refuses a date past the tenant maximum (365 days) naming expires_at.
    await page.waitForFunction(() => {
      const input = document.querySelector('input[name="expires_at"]');
      return input && input.getAttribute('aria-invalid') === 'true';
    });
    const describedBy = (await expiry.getAttribute('aria-describedby')).split(' ');
    const errorId = describedBy.find((id) => id.endsWith('-error'));
    assert.ok(errorId, 'the expiry input is described by its error');
    const message = await page.locator(`#${errorId}`).textContent();
    assert.ok(message && message.length > 3, `error shown at Expiry Date: ${message}`);
    assert.equal(await page.getByLabel('Token Name').inputValue(), 'Too long', 'the typed name is kept');
    await shot('create-field-error');
    const list = await admin.get('/api/v1/tokens?kind=api&q=Too%20long');
    assert.equal(list.json.items.length, 0, 'nothing was created');
  });

  it('inspects an API token: the guide fields, reveal and copy', async () => {
    const created = await createApiToken('Reporting bot', { description: 'Reads reports' });
    await openList('api');
    await page.getByRole('link', { name: 'Reporting bot' }).click();
    await page.waitForURL(new RegExp(`#/tokens/api/${created.id}$`));
    assert.deepEqual(await labelsOfDetails(), [
      'Token Name',
      'API Token',
      'Tenant Id',
      'Description of Use',
      'Expiry Date',
      'Associated User',
      'Department and User Type',
    ]);
    const usage = await page.locator('dl.details pre').textContent();
    assert.match(usage, /curl/);
    const value = page.getByTestId('api-token-value');
    const masked = await value.textContent();
    assert.ok(masked.startsWith('tka_') && masked.endsWith(created.token.slice(-4)), masked);
    assert.ok(!masked.includes(created.token.slice(4, 20)), 'masked');
    assert.equal(await page.locator('dl.details').getByText(created.tenant_id).count(), 1);
    await shot('api-detail');

    await page.getByRole('button', { name: 'Reveal' }).click();
    await page.getByRole('button', { name: 'Hide' }).waitFor();
    assert.equal(await value.textContent(), created.token);
    await page.getByRole('button', { name: 'Copy API token' }).click();
    await page.getByRole('button', { name: 'Copy API token' }).getByText('Copied').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), created.token);

    const audit = await admin.get('/api/v1/audit-events?action=token.reveal');
    assert.ok(audit.json.items.some((e) => JSON.stringify(e).includes(created.id)), 'reveal was audited');
  });

  it('shows a token name containing HTML as text', async () => {
    const name = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    const t = await createApiToken(name);
    await openList('api');
    const link = page.getByRole('link', { name, exact: true });
    await link.waitFor();
    assert.equal(await link.textContent(), name);
    await link.click();
    await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator('main img, main script').count(), 0);
    await admin.delete(`/api/v1/tokens/${t.id}`);
  });

  it('inspects a mobile token and revokes the session', async () => {
    const login = await request(server.url, 'POST', '/api/v1/mobile/login', {
      body: { tenant: 'default', username: 'alice', password: fx.alicePassword, device_name: 'Pixel 8' },
    });
    assert.equal(login.status, 201, login.text);
    const mobileSecret = login.json.token;
    assert.equal(await verify(mobileSecret), 204);

    await openList('mobile');
    const headers = await page.locator('thead th').allTextContents();
    assert.deepEqual(headers.slice(1, 7), ['User Name', 'Email', 'Department', 'User Type', 'Last Active', 'Expiry Date']);
    const row = page.locator('tbody tr', { hasText: 'alice' });
    await row.waitFor();
    assert.ok((await row.textContent()).includes('alice@example.com'));
    await shot('mobile-list');
    await row.getByRole('link', { name: 'alice' }).click();
    await page.waitForURL(new RegExp(`#/tokens/mobile/${login.json.id}$`));
    assert.deepEqual(await labelsOfDetails(), ['User Name', 'Email', 'Department', 'User Type', 'Last Active', 'Expiry Date']);
    const values = await page.locator('dl.details dd').allTextContents();
    assert.equal(values[0], 'alice');
    assert.equal(values[1], 'alice@example.com');
    assert.equal(values[2], 'Engineering');
    assert.equal(values[3], 'Member');
    await shot('mobile-detail');

    await page.getByRole('button', { name: 'Delete (sign out)' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('This user will be signed out of the mobile app.').waitFor();
    await dialog.getByRole('button', { name: 'Delete token' }).click();
    await page.getByRole('tab', { name: 'Mobile Users Logged In' }).waitFor();
    await page.getByText('No mobile users are logged in').waitFor();
    assert.equal(await verify(mobileSecret), 401, 'the revoked mobile token is refused');
  });

  it('selects several rows and deletes them; the tokens stop working', async () => {
    const made = [];
    for (const n of ['Batch A', 'Batch B', 'Batch C']) made.push(await createApiToken(n));
    for (const t of made) assert.equal(await verify(t.token), 204);
    await openList('api');
    await shot('token-list');
    for (const t of made) await page.getByRole('checkbox', { name: `Select ${t.name}` }).check();
    const deleteButton = page.getByRole('button', { name: 'Delete (3)' });
    await deleteButton.click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Any integration using these 3 tokens will stop working immediately.').waitFor();
    await shot('delete-dialog');

    // A real modal: Escape closes it and focus returns to the button that opened it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await deleteButton.evaluate((b) => b === document.activeElement), true, 'focus returned');
    await deleteButton.click();
    await dialog.getByRole('button', { name: 'Delete 3 tokens' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText('Deleted 3 API tokens.').waitFor();
    for (const t of made) {
      await page.getByRole('link', { name: t.name, exact: true }).waitFor({ state: 'detached' });
      assert.equal(await verify(t.token), 401, `${t.name} is refused after deletion`);
    }
  });

  it('deletes a single token from its row', async () => {
    const t = await createApiToken('Single row');
    await openList('api');
    await page.getByRole('button', { name: 'Delete Single row' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Any integration using this token will stop working immediately.').waitFor();
    await dialog.getByRole('button', { name: 'Delete token' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Single row', exact: true }).waitFor({ state: 'detached' });
    assert.equal(await verify(t.token), 401);
  });

  it('searches, filters and sorts the list', async () => {
    await createApiToken('Zebra sync');
    await createApiToken('Alpha sync');
    await openList('api');
    await page.getByLabel('Search').fill('sync');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 2);
    await page.getByRole('button', { name: 'Token Name' }).click();
    await page.waitForFunction(() => document.querySelector('tbody tr a')?.textContent === 'Alpha sync');
    await page.getByRole('button', { name: 'Token Name' }).click();
    await page.waitForFunction(() => document.querySelector('tbody tr a')?.textContent === 'Zebra sync');
    assert.equal(await page.locator('th[aria-sort="descending"]').textContent(), 'Token Name');
    await page.getByLabel('Status').selectOption('expired');
    await page.getByText('No tokens match your search').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('link', { name: 'Payroll export' }).waitFor();
  });

  it('shows the directory pages', async () => {
    await open('#/users');
    await page.getByRole('button', { name: 'alice', exact: true }).waitFor();
    await shot('users');
    await open('#/departments');
    await page.getByText('Engineering').waitFor();
    await page.getByRole('button', { name: 'Add a department under Engineering' }).click();
    await page.getByLabel('Department Name').fill('Platform');
    await page.getByRole('button', { name: 'Create department' }).click();
    await page.locator('.tree__name', { hasText: 'Platform' }).waitFor();
    await shot('departments');
    await open('#/user-types');
    await page.getByRole('button', { name: 'Administrator', exact: true }).waitFor();
    await shot('user-types');
    await open('#/audit');
    await page.locator('tbody tr', { hasText: 'token.delete' }).first().waitFor();
    await shot('audit');
  });

  it('manages users: create with a membership, deactivate, delete', async () => {
    await open('#/users');
    await page.getByRole('button', { name: 'Create user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('Username').fill('carol');
    await dialog.getByLabel('Email').fill('carol@example.com');
    await dialog.getByLabel('Display Name').fill('Carol Jones');
    await dialog.getByLabel('Password', { exact: true }).fill('Carol-pass-123456');
    await dialog.getByLabel('Department').selectOption(fx.engineering.id);
    await dialog.getByLabel('User Type').selectOption(fx.member.id);
    await shot('user-create');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tbody tr', { hasText: 'carol@example.com' });
    await row.waitFor();
    assert.match(await row.textContent(), /Engineering · Member/);

    await page.getByRole('button', { name: 'Deactivate carol' }).click();
    await row.getByText('Deactivated').waitFor();
    const listed = await admin.get('/api/v1/users?q=carol');
    assert.equal(listed.json.items[0].active, false);

    await page.getByRole('button', { name: 'Delete carol' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete user' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await admin.get('/api/v1/users?q=carol')).json.items.length, 0);
  });

  it('creates a user type from permission checkboxes', async () => {
    await open('#/user-types');
    await page.getByRole('button', { name: 'Create user type' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user type' });
    await dialog.getByLabel('Name').fill('Auditor');
    const boxes = dialog.getByRole('checkbox');
    assert.equal(await boxes.count(), 11, 'one checkbox per permission of the catalogue');
    await dialog.getByRole('checkbox', { name: /audit:read/ }).check();
    await dialog.getByRole('checkbox', { name: /tokens:read/ }).check();
    await dialog.getByRole('button', { name: 'Create user type' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Auditor', exact: true }).waitFor();
    const types = await admin.get('/api/v1/user-types');
    const auditor = types.json.items.find((t) => t.name === 'Auditor');
    assert.deepEqual([...auditor.permissions].sort(), ['audit:read', 'tokens:read']);
  });

  it('filters the audit trail by action', async () => {
    await open('#/audit');
    await page.locator('tbody tr').first().waitFor();
    await page.getByLabel('Action').selectOption('token.delete');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('tbody tr')].every((tr) => tr.textContent.includes('token.delete')));
    assert.ok((await page.locator('tbody tr').count()) >= 5, 'the deletions of this run are listed');
  });

  it('works at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openList('api');
    await page.getByRole('link', { name: 'Payroll export' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page itself does not scroll sideways (${overflow}px)`);
    await shot('token-list-phone');
    await page.setViewportSize({ width: 1366, height: 860 });
  });

  it('returns to the sign-in page when the session ends', async () => {
    await openList('api');
    // End the session behind the console's back (as an idle timeout would).
    const cookies = await context.cookies(server.url);
    assert.ok(cookies.length > 0);
    await context.clearCookies();
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByText('Your session has expired. Please sign in again.').waitFor();
    await page.getByLabel('Password').waitFor();
  });

  it('logged no errors in the browser console', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
