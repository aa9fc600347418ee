/**
 * The real OpenAI Codex CLI (pinned devDependency) under gt, headless
 * (`codex exec --json`), against the scripted server's Responses API.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScriptedModelServer, parseModelScript } from '../../src/infra/model-server.js';
import { onCleanup, ROOT } from '../support/env.js';
import { makeTown, waitFor } from '../support/town.js';

const CODEX_BIN = join(ROOT, 'node_modules', '.bin', 'codex');
if (!existsSync(CODEX_BIN)) console.warn(`Skipping the Codex test: ${CODEX_BIN} is missing (npm ci installs the pinned devDependency).`);

describe.skipIf(!existsSync(CODEX_BIN))('Codex under gt', () => {
  it('slings a bead to Codex headless: it runs its commands, commits, gt done, merged; usage from turn.completed', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Codex work', []);
    const server = new ScriptedModelServer(
      parseModelScript({
        model: 'gpt-5',
        turns: [
          {
            tools: [
              {
                name: 'exec_command',
                input: {
                  cmd: 'gt hook --json | grep -q "Codex work" && printf "from codex\\n" > CODEX.md && git add CODEX.md && git commit -qm "Codex work" && gt done',
                },
              },
            ],
            usage: { input_tokens: 1000, output_tokens: 100 },
          },
          { text: 'Finished.', usage: { input_tokens: 500, output_tokens: 50 } },
        ],
      }),
    );
    await server.listen();
    onCleanup(() => server.close());
    // Codex reads its model provider from its own config; this is the user's side, not gt's.
    const codexHome = join(town.env.HOME as string, '.codex');
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(
      join(codexHome, 'config.toml'),
      `model = "gpt-5"\nmodel_provider = "scripted"\n[model_providers.scripted]\nname = "scripted"\nbase_url = "${server.url()}/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\nsupports_websockets = false\n`,
    );
    Object.assign(town.env, { OPENAI_API_KEY: 'sk-gt-test', PATH: `${join(ROOT, 'node_modules', '.bin')}:${town.env.PATH ?? ''}` });
    const slung = town.gt(['sling', bead, 'app', '--agent', 'codex', '--backend', 'headless']);
    expect(slung.code, slung.stderr).toBe(0);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 90_000);
    expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])).toMatchObject([{ result: 'merged' }]);
    // Codex was told who it is and to run gt prime (it has no SessionStart hook gt can use).
    expect(JSON.stringify(server.mainRequests()[0]?.body)).toContain('Run `gt prime`');
    // One turn.completed carries the whole turn: both model requests.
    await waitFor('the usage to be recorded', () => town.json<{ total: { input_tokens: number } }>(['costs']).total.input_tokens > 0 || undefined, 20_000);
    expect(town.json<{ total: Record<string, number> }>(['costs']).total).toMatchObject({ input_tokens: 1500, output_tokens: 150 });
  });
});
