/**
 * A session runs with the environment of the process that starts it (PATH, and
 * the runtime found on it). The Mayor and the leaders answer permission
 * requests, so a plain agent may not start one of their sessions: an attack had
 * a polecat start the Mayor from its own fake `claude`, which approved the
 * polecat's `npm publish`.
 */
import { describe, expect, it } from 'vitest';
import { startSession } from '../../src/core/agents/sessions.js';
import type { Identity } from '../../src/core/agents/identity.js';
import { townHarness } from '../support/harness.js';

const MAYOR: Identity = { address: 'mayor', role: 'mayor' };

describe('who may start a leader session', () => {
  it("a polecat may not start the Mayor's session; the Mayor and a person may, and the session really starts", async () => {
    const agent = await townHarness({ actor: 'app/polecats/nux' });
    const runtime = agent.town.runtimeFor(MAYOR, 'shell');
    await expect(startSession(agent.town, MAYOR, { runtime, backend: 'tmux', hooked: false })).rejects.toThrow(
      "app/polecats/nux is an agent session and may not start mayor's session",
    );
    expect(agent.backend.started).toEqual([]);

    for (const actor of ['human', 'mayor']) {
      const h = await townHarness({ actor });
      const record = await startSession(h.town, MAYOR, { runtime: h.town.runtimeFor(MAYOR, 'shell'), backend: 'tmux', hooked: false });
      expect(record.address).toBe('mayor');
      expect(h.backend.started.map((spec) => spec.name)).toEqual([record.session]);
    }
  });
});
