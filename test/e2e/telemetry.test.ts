/**
 * The daemon of a town with `[telemetry] otlp_endpoint` exports the event
 * stream over OTLP/HTTP (the built CLI, its OpenTelemetry bundle loaded on
 * demand) to a loopback receiver.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logRecords, otlpReceiver } from '../support/otlp.js';
import { makeTown, waitFor } from '../support/town.js';

describe('telemetry from the daemon', () => {
  it('sends events to the OTLP endpoint as they happen', async () => {
    const receiver = await otlpReceiver();
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'telemetry.otlp_endpoint', receiver.url]).code).toBe(0);
    expect(town.gt(['config', 'set', 'daemon.interval', '1s']).code).toBe(0);
    const up = town.gt(['up']);
    expect(up.code, up.stderr).toBe(0);
    // The daemon's first pass fixes its starting point (its cursor file); what follows is exported.
    await waitFor('the first telemetry pass', () => existsSync(join(town.root, '.gt', 'telemetry.cursor')) || undefined, 60_000);
    expect(town.gt(['mail', 'send', 'mayor', '-s', 'Exported', '-m', 'hi']).code).toBe(0);
    const record = await waitFor('the mail event at the receiver', () => logRecords(receiver.received).find((l) => l.kind === 'mail.sent'), 60_000);
    expect(record.attributes).toMatchObject({ 'gt.event.kind': 'mail.sent', 'gt.subject': 'Exported' });
    expect(town.gt(['down']).code).toBe(0);
  });
});
