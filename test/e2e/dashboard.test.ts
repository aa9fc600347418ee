/**
 * `gt dashboard` in a real browser: Debian's Chromium driven by
 * playwright-core, against the built CLI's dashboard over a live town. A sling
 * from the command palette starts a polecat, events arrive without a reload, a
 * permission approved in the page lets a Claude Code agent's command run, and
 * requests without the token or the CSRF token are refused.
 *
 * Screenshots go to test-results/ (and to docs/ with UPDATE_SCREENSHOTS=1,
 * which is how the README's picture is made).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bash, claudeInstalled, say, useScriptedClaude } from '../support/claude.js';
import { GT, onCleanup, ROOT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = join(ROOT, 'test-results');

interface Dashboard {
  base: string;
  url: string;
  process: ChildProcess;
}

/** Starts `gt dashboard --port 0` for the town and reads the address it prints. */
async function startDashboard(town: TestTown, extraEnv: Record<string, string> = {}): Promise<Dashboard> {
  const child = spawn(process.execPath, [GT, 'dashboard', '--port', '0'], {
    cwd: town.root,
    env: { ...town.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(() => {
    child.kill('SIGTERM');
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const url = await waitFor(`the dashboard's address (stderr: ${err})`, () => /Dashboard: (\S+)/.exec(out)?.[1], 60_000);
  return { url, base: new URL(url).origin, process: child };
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    copyFileSync(path, join(ROOT, 'docs', `${name}.png`));
  }
}

describe.skipIf(!haveChromium)('gt dashboard in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('refuses requests without the token (401) or the CSRF token (403), and trades the token for an HttpOnly SameSite=Strict cookie', async () => {
    const town = makeTown({ rig: 'app' });
    const dash = await startDashboard(town);
    const token = new URL(dash.url).searchParams.get('token') as string;
    expect((await fetch(`${dash.base}/`)).status).toBe(401);
    expect((await fetch(`${dash.base}/api/snapshot`)).status).toBe(401);
    expect((await fetch(`${dash.base}/?token=wrong-token-wrong-token`)).status).toBe(401);
    expect((await fetch(`${dash.base}/api/sling`, { method: 'POST', body: new URLSearchParams({ bead: 'x', target: 'app' }) })).status).toBe(401);
    // A DNS-rebound name is not this server (fetch cannot set Host; node:http can).
    const rebound = await new Promise<number>((resolve, reject) => {
      const { hostname, port } = new URL(dash.base);
      request({ hostname, port, path: '/', headers: { Host: `evil.example:${port}`, Authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);

    const exchange = await fetch(dash.url, { redirect: 'manual' });
    expect(exchange.status).toBe(303);
    expect(exchange.headers.get('location')).toBe('/');
    const cookie = exchange.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/gt_dashboard=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const jar = cookie.split(';')[0] as string;
    const page = await fetch(`${dash.base}/`, { headers: { Cookie: jar } });
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).not.toContain(token);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    // A bead whose title carries a token and a URL password: the page (its palette offers ready beads) shows neither.
    const leaky = `ghp_${'C'.repeat(36)}`;
    town.bead(`leak ${leaky} https://bob:hunter22@example.com/x`, ['true']);
    const again = await (await fetch(`${dash.base}/`, { headers: { Cookie: jar } })).text();
    expect(again).toContain('leak ');
    expect(again).not.toContain(leaky);
    expect(again).not.toContain('hunter22');
    // A sandboxed frame's `Origin: null` is another origin: refused, not a server error.
    expect((await fetch(`${dash.base}/api/nudge`, { method: 'POST', headers: { Cookie: jar, Origin: 'null' }, body: new URLSearchParams() })).status).toBe(403);

    // State changes need the CSRF token too, with the cookie or the bearer token.
    const form = new URLSearchParams({ agent: 'app/polecats/none', message: 'hi' });
    expect((await fetch(`${dash.base}/api/nudge`, { method: 'POST', headers: { Cookie: jar }, body: form })).status).toBe(403);
    expect((await fetch(`${dash.base}/api/nudge`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form })).status).toBe(403);
    const { csrf } = (await (await fetch(`${dash.base}/api/session`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { csrf: string };
    const withCsrf = await fetch(`${dash.base}/api/nudge`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'X-CSRF-Token': csrf, Accept: 'application/json' },
      body: form,
    });
    // Past the guards: core answers (there is no such agent).
    expect(withCsrf.status).toBe(404);
    expect(((await withCsrf.json()) as { error: string }).error).toContain('app/polecats/none');

    // --bind beyond loopback refuses to start without a token the person chose.
    const bound = town.gt(['dashboard', '--bind', '0.0.0.0', '--port', '0']);
    expect(bound.code).toBe(2);
    expect(bound.stderr).toContain('needs a token you chose');
  });

  it('loads the panels, slings from the command palette (a polecat starts), shows new events without a reload, and fits a phone', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Add a greeting', ['echo hello > greeting.txt', 'git add greeting.txt', 'git commit -qm greeting']);
    const dash = await startDashboard(town);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Refused requests (the 404 and 409 below) are logged by the browser too: only script errors count.
    page.on('console', (m) => (m.type() === 'error' && !m.text().startsWith('Failed to load resource') ? errors.push(m.text()) : undefined));
    await page.goto(dash.url);
    expect(new URL(page.url()).search).toBe('');
    for (const panel of ['health', 'problems', 'agents', 'convoys', 'queue', 'escalations', 'permissions', 'mail', 'costs', 'activity']) {
      await page.locator(`#panel-${panel}`).waitFor();
    }
    await page.locator('#panel-metrics svg, #panel-metrics p.muted').first().waitFor();
    await page.locator('#live.good').waitFor({ timeout: 30_000 });
    // The page stays the same document from here on: a marker a reload would lose.
    await page.evaluate('window.marker = 42');

    // Ctrl+K, type, Enter: the sling form; fill it; the toast says what happened.
    await page.keyboard.press('Control+k');
    await page.locator('#palette-search').fill('sling');
    await page.keyboard.press('Enter');
    await page.locator('#form-sling input[name=bead]').fill(bead);
    await page.locator('#form-sling input[name=target]').fill('app');
    await page.locator('#form-sling input[name=runtime]').fill('shell');
    await page.locator('#form-sling button[type=submit]').click();
    await page.locator('#toast .msg.good').waitFor({ timeout: 60_000 });
    expect(await page.locator('#toast').innerText()).toContain(`Slung ${bead} to app/polecats/`);

    // Without a reload: the sling's event in the activity list, the polecat among the agents.
    await page.locator('#events li[data-kind="bead.slung"]').first().waitFor({ timeout: 10_000 });
    await page.locator('#panel-agents li.agent[data-agent^="app/polecats/"]').first().waitFor({ timeout: 30_000 });
    const slung = town.json<Array<{ agent: string; bead: string }>>(['events', '--type', 'bead.slung']);
    expect(slung.map((e) => [e.bead, e.agent.split('/').slice(0, 2).join('/')])).toEqual([[bead, 'app/polecats']]);
    // An event from another process (a person's mail in a terminal) shows up too.
    expect(town.gt(['mail', 'send', 'mayor', '-s', 'From the terminal', '-m', 'hi']).code).toBe(0);
    await page.locator('#events li[data-kind="mail.sent"]').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('#events').innerText()).toContain('From the terminal');
    expect(await page.evaluate('window.marker')).toBe(42);

    // Peek shows the agent's screen or log.
    await page.locator('#panel-agents li.agent button', { hasText: 'peek' }).first().click();
    await page.locator('#panel-agents .peek pre').first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'dashboard');

    // A dangerous action asks first, server-side.
    await page.keyboard.press('Control+k');
    await page.locator('#palette-search').fill('stop');
    await page.keyboard.press('Enter');
    await page.locator('#form-agent-stop input[name=agent]').fill('app/polecats/nobody');
    await page.locator('#form-agent-stop button[type=submit]').click();
    await page.locator('#toast .msg.warn button', { hasText: 'Confirm' }).waitFor();
    await page.locator('#toast .msg.warn button', { hasText: 'Confirm' }).click();
    await page.locator('#toast .msg.bad').waitFor();
    expect(await page.locator('#toast').innerText()).toContain('no agent app/polecats/nobody');

    // A phone: one column, nothing wider than the screen.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const small = await phone.newPage();
    await small.goto(dash.url);
    await small.locator('#panel-agents').waitFor();
    const overflow = await small.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(small, 'dashboard-phone');
    await phone.close();
    await context.close();
    expect(errors).toEqual([]);
  });

  it.skipIf(!claudeInstalled)('a permission approved in the browser lets the agent’s command run', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'permissions.rules', '[{action = "ask", tool = "Bash", command = "touch *.txt"}]']).code).toBe(0);
    const bead = town.bead('Mind the rules', []);
    await useScriptedClaude(town, [bash('touch APPROVED.txt'), say('Done.')]);
    const dash = await startDashboard(town);
    const page = await browser.newPage();
    await page.goto(dash.url);
    await page.locator('#live.good').waitFor({ timeout: 30_000 });
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const worktree = join(town.root, 'app', 'polecats', (slung?.agent as string).split('/')[2] as string);
    // The ask arrives in the open page by itself.
    const approve = page.locator('#panel-permissions li.permission button', { hasText: 'Approve' });
    await approve.first().waitFor({ timeout: 90_000 });
    expect(await page.locator('#panel-permissions').innerText()).toContain('touch APPROVED.txt');
    expect(existsSync(join(worktree, 'APPROVED.txt'))).toBe(false);
    await screenshot(page, 'dashboard-permission');
    await approve.first().click();
    await page.locator('#toast .msg').waitFor();
    await page
      .locator('#toast .msg.good')
      .waitFor({ timeout: 5000 })
      .catch(async () => expect(await page.locator('#toast').innerText()).toBe('a success'));
    expect(await page.locator('#toast').innerText()).toMatch(/allowed/);
    await waitFor('the approved command to run', () => existsSync(join(worktree, 'APPROVED.txt')) || undefined, 60_000);
    const [decision] = town.json<Array<{ decided_by: string; status: string }>>(['permission', 'list', '--all']);
    expect(decision).toMatchObject({ status: 'allowed', decided_by: 'human' });
    await page.locator('#panel-permissions p.muted').waitFor({ timeout: 10_000 });
    await page.close();
  });
});
