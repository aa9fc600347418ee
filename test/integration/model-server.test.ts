import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelScript, requestText, ScriptedModelServer } from '../../src/infra/model-server.js';
import { GT, isolatedEnv, onCleanup, tempDir } from '../support/env.js';

async function serve(turns: unknown[]): Promise<ScriptedModelServer> {
  const server = new ScriptedModelServer(parseModelScript({ turns }));
  await server.listen();
  onCleanup(() => server.close());
  return server;
}

const TOOLS = [{ name: 'Bash', description: 'run', input_schema: { type: 'object' } }];
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('the scripted model server', () => {
  it('answers the Messages API as JSON and as SSE, turn by turn, with the scripted usage, and records every request', async () => {
    const server = await serve([{ tools: [{ name: 'Bash', input: { command: 'ls' } }], usage: { input_tokens: 7, output_tokens: 3 } }, { text: 'done' }]);
    const first = (await (
      await post(`${server.url()}/v1/messages`, { model: 'm', tools: TOOLS, messages: [{ role: 'user', content: 'hi' }] })
    ).json()) as Record<string, unknown>;
    expect(first).toMatchObject({
      stop_reason: 'tool_use',
      usage: { input_tokens: 7, output_tokens: 3 },
      content: [{ type: 'tool_use', name: 'Bash', input: { command: 'ls' } }],
    });
    const sse = await (
      await post(`${server.url()}/v1/messages`, { model: 'm', stream: true, tools: TOOLS, messages: [{ role: 'user', content: 'next' }] })
    ).text();
    const events = sse
      .split('\n')
      .filter((l) => l.startsWith('event: '))
      .map((l) => l.slice(7));
    expect(events).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(sse).toContain('"text_delta","text":"done"');
    expect(sse).toContain('"stop_reason":"end_turn"');
    // Requests without tools are side requests (titles): answered, not counted as turns.
    await post(`${server.url()}/v1/messages`, { model: 'm', messages: [{ role: 'user', content: 'title?' }] });
    expect(server.turnsUsed()).toBe(2);
    expect(server.requests.map((r) => r.main)).toEqual([true, true, false]);
    expect(requestText(server.requests[1] as never)).toContain('next');
  });

  it('holds a turn until a request contains its match, keeps lanes apart, and fails a turn with a scripted API error', async () => {
    const server = await serve([{ match: 'GO', text: 'going' }, { error: { status: 400, type: 'invalid_request_error', message: 'nope' } }]);
    server.setScript('other', parseModelScript({ turns: [{ text: 'other lane' }] }));
    const ask = async (lane: string, content: string) =>
      (await post(`${server.url(lane)}/v1/messages`, { tools: TOOLS, messages: [{ role: 'user', content }] })).json() as Promise<{
        content?: Array<{ text: string }>;
        error?: { message: string };
      }>;
    expect((await ask('', 'wait'))?.content?.[0]?.text).toBe('Done.');
    expect((await ask('other', 'x'))?.content?.[0]?.text).toBe('other lane');
    expect((await ask('', 'GO now'))?.content?.[0]?.text).toBe('going');
    const failed = await post(`${server.url()}/v1/messages`, { tools: TOOLS, messages: [{ role: 'user', content: 'again' }] });
    expect(failed.status).toBe(400);
    expect(((await failed.json()) as { error: { message: string } }).error.message).toBe('nope');
  });

  it('answers the OpenAI Responses API with function calls and usage', async () => {
    const server = await serve([
      { tools: [{ name: 'exec_command', input: { cmd: 'ls' } }], usage: { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: 3 } },
    ]);
    const reply = (await (
      await post(`${server.url()}/v1/responses`, {
        model: 'gpt-5',
        tools: [{ type: 'function', name: 'exec_command' }],
        input: [{ role: 'user', content: 'hi' }],
      })
    ).json()) as Record<string, unknown>;
    expect(reply).toMatchObject({
      status: 'completed',
      output: [{ type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls"}' }],
      usage: { input_tokens: 8, input_tokens_details: { cached_tokens: 3 }, output_tokens: 2 },
    });
  });

  it('rejects a malformed script with the key that is wrong', () => {
    expect(() => parseModelScript({ turns: [{ txet: 'typo' }] })).toThrow(/key turns\.0: .*txet/);
    expect(() => parseModelScript({ turns: [{ error: { status: 200, type: 'x', message: 'y' } }] })).toThrow(/key turns\.0\.error\.status/);
  });

  it('gt model-server serves a script file and prints each request on stdout', async () => {
    const dir = tempDir();
    const script = join(dir, 'script.json');
    writeFileSync(script, JSON.stringify({ turns: [{ text: 'hello from the script' }] }));
    const child = spawn(process.execPath, [GT, 'model-server', '--script', script, '--port', '0'], {
      env: isolatedEnv(dir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(() => void child.kill('SIGKILL'));
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!/127\.0\.0\.1:(\d+)/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1] as string;
    const reply = (await (await post(`${url}/v1/messages`, { tools: TOOLS, messages: [{ role: 'user', content: 'hi' }] })).json()) as {
      content: Array<{ text: string }>;
    };
    expect(reply.content[0]?.text).toBe('hello from the script');
    while (!stdout.includes('"turn":0') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(stdout.trim().split('\n')[0] as string)).toMatchObject({ path: '/v1/messages', main: true, turn: 0 });
    child.kill('SIGTERM');
    const bad = spawn(process.execPath, [GT, 'model-server', '--script', join(dir, 'missing.json')], { env: isolatedEnv(dir) });
    const code = await new Promise<number>((r) => bad.on('exit', (c) => r(c ?? -1)));
    expect(code).toBe(4);
  });

  it('gt model-server --setup-claude writes exactly the keys Claude Code needs offline, keeps every other, into CLAUDE_CONFIG_DIR or HOME', () => {
    const dir = tempDir();
    const project = join(dir, 'project');
    mkdirSync(project);
    const gt = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [GT, ...args], { cwd: project, env: isolatedEnv(dir, env), encoding: 'utf8' });
    const file = join(dir, '.claude.json');
    writeFileSync(
      file,
      JSON.stringify({
        theme: 'dark',
        customApiKeyResponses: { approved: ['older-key-suffix-abcd'], rejected: ['ghijklmnopqrstuvwxyz'] },
        projects: { '/elsewhere': { allowedTools: ['Bash'] } },
      }),
    );
    const key = 'sk-ant-mine-0123456abcdefghijklmnopqrstuvwxyz';
    const first = gt(['model-server', '--setup-claude'], { ANTHROPIC_API_KEY: key });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(`Wrote ${file}: onboarding done`);
    expect(first.stdout).not.toContain(key); // only its last 20 characters, as Claude Code keeps it
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      theme: 'dark',
      hasCompletedOnboarding: true,
      customApiKeyResponses: { approved: ['older-key-suffix-abcd', 'ghijklmnopqrstuvwxyz'], rejected: [] },
      projects: { '/elsewhere': { allowedTools: ['Bash'] }, [project]: { hasTrustDialogAccepted: true } },
    });
    const before = readFileSync(file, 'utf8');
    expect(gt(['model-server', '--setup-claude'], { ANTHROPIC_API_KEY: key }).stdout).toContain('Already set in');
    expect(readFileSync(file, 'utf8')).toBe(before);
    // CLAUDE_CONFIG_DIR wins over HOME; without a key, a dry-run key is approved and named.
    const configDir = join(dir, 'claude-config');
    const json = JSON.parse(gt(['model-server', '--setup-claude', '--json'], { CLAUDE_CONFIG_DIR: configDir }).stdout) as {
      file: string;
      api_key: string;
      api_key_suffix: string;
    };
    expect(json.file).toBe(join(configDir, '.claude.json'));
    const written = JSON.parse(readFileSync(json.file, 'utf8')) as { customApiKeyResponses: { approved: string[] } };
    // --json output never shows a key (the dry-run one is shaped like a real one); the suffix Claude Code keeps is given.
    expect(json.api_key).toBe('[redacted]');
    expect(written.customApiKeyResponses.approved).toEqual([json.api_key_suffix]);
    expect(json.api_key_suffix).toHaveLength(20);
    expect(readFileSync(file, 'utf8')).toBe(before);
    // A config that is not JSON is left alone; no --script and no --setup-claude is a usage error.
    writeFileSync(file, '{ not json');
    const broken = gt(['model-server', '--setup-claude']);
    expect(broken.status).toBe(3);
    expect(broken.stderr).toContain(`${file} is not a JSON object`);
    expect(readFileSync(file, 'utf8')).toBe('{ not json');
    expect(gt(['model-server']).status).toBe(2);
  });
});
