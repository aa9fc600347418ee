/**
 * The session host's hook endpoint (issue 12, finding 6): the repro sent a
 * 1.5 GB body without the token and the host grew to 1.6 GB before it looked
 * at the token. A real host (runSessionHost) with a real agent process.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOOK_BODY_LIMIT, HOOK_REQUEST_TIMEOUT_MS, runSessionHost } from '../../src/infra/headless.js';
import { HOOK_URL_PLACEHOLDER } from '../../src/core/agents/runtimes.js';
import { onCleanup, tempDir } from '../support/env.js';

async function startHost(): Promise<{ url: string; settings: string; heard: string[] }> {
  const runDir = tempDir('gt-host-');
  const settings = join(runDir, 'settings.json');
  writeFileSync(settings, JSON.stringify({ hooks: { url: HOOK_URL_PLACEHOLDER } }));
  writeFileSync(
    join(runDir, 'session.json'),
    JSON.stringify({ name: 's', cwd: runDir, argv: ['sleep', '60'], env: { PATH: process.env.PATH ?? '/bin' }, runDir, hookServer: { files: [settings] } }),
  );
  const heard: string[] = [];
  const host = runSessionHost(runDir, {
    onHook: async (event, body) => {
      heard.push(`${event}:${JSON.stringify(body).length}`);
      return { ok: true };
    },
  });
  onCleanup(async () => {
    try {
      process.kill(Number(readFileSync(join(runDir, 'agent.pid'), 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
    await host;
  });
  for (let i = 0; i < 200 && readFileSync(settings, 'utf8').includes(HOOK_URL_PLACEHOLDER); i++) await new Promise((r) => setTimeout(r, 25));
  const url = (JSON.parse(readFileSync(settings, 'utf8')) as { hooks: { url: string } }).hooks.url;
  return { url, settings, heard };
}

/** POSTs `megabytes` of body (chunked, or with its length), as fast as the server takes it; stops when the server answers or hangs up. */
function post(url: string, megabytes: number, withLength = false): Promise<{ status?: number; sent: number }> {
  return new Promise((resolvePromise) => {
    const req = request(url, { method: 'POST', headers: withLength ? { 'content-length': String(megabytes * 1024 * 1024) } : {} });
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    let sent = 0;
    let status: number | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      req.destroy();
      resolvePromise({ status, sent });
    };
    req.on('response', (res) => {
      status = res.statusCode;
      res.resume();
      res.on('end', finish);
    });
    req.on('error', finish);
    req.on('close', () => setTimeout(finish, 50));
    const pump = () => {
      while (!done && sent < megabytes) {
        sent++;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!done) req.end();
    };
    pump();
  });
}

describe("the session host's hook endpoint (issue 12, finding 6)", () => {
  it('refuses a request without the token before reading its body, and its memory does not grow', async () => {
    const { url, settings, heard } = await startHost();
    expect((statSync(settings).mode & 0o777).toString(8)).toBe('600');
    const wrong = url.replace(/\/hook\/[0-9a-f]+$/, '/hook/0000');
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const before = process.memoryUsage().rss;
    const flood = await post(`${wrong}/PreToolUse`, 400);
    clearInterval(sampler);
    expect(flood.status ?? 404).toBe(404);
    // The host hung up long before the body was sent; the old one read all 400 MB first.
    expect(flood.sent).toBeLessThan(100);
    expect(peak - before).toBeLessThan(150 * 1024 * 1024);
    expect(heard).toEqual([]);
    // The token in the URL is still what lets a hook through.
    expect((await post(`${url}/Stop`, 0)).status).toBe(200);
    expect(heard).toEqual(['Stop:2']);
  });

  it('answers 413 to a body over 1 MB with the token, declared or not', async () => {
    const { url, heard } = await startHost();
    expect(HOOK_BODY_LIMIT).toBe(1024 * 1024);
    expect((await post(`${url}/PreToolUse`, 2, true)).status).toBe(413);
    expect((await post(`${url}/PreToolUse`, 3)).status).toBe(413);
    expect(heard).toEqual([]);
  });

  it(
    'cuts off a client that never finishes its request',
    async () => {
      const { url } = await startHost();
      const { port } = new URL(url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.write(`POST ${new URL(url).pathname}/Stop HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":`);
      const started = Date.now();
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      await new Promise((r) => socket.on('close', r));
      expect(Date.now() - started).toBeLessThan(HOOK_REQUEST_TIMEOUT_MS + 3000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    },
    HOOK_REQUEST_TIMEOUT_MS + 10_000,
  );
});
