/**
 * OpenTelemetry export against a loopback OTLP/HTTP receiver: with
 * `[telemetry] otlp_endpoint` set, the daemon's pass sends the event stream as
 * log records (each once, across passes) and the outcome metrics as gauges
 * whose values are gt metrics' figures.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { telemetrySink } from '../../src/app/index.js';
import { telemetryPass } from '../../src/core/metrics/telemetry.js';
import { onCleanup } from '../support/env.js';
import { townHarness } from '../support/harness.js';
import { gauges, logRecords, otlpReceiver } from '../support/otlp.js';

describe('OpenTelemetry export', () => {
  it('sends the event stream as logs, each event once, and the outcome metrics as gauges, to the configured OTLP/HTTP endpoint', async () => {
    const receiver = await otlpReceiver();
    const h = await townHarness();
    const toml = join(h.root, 'town.toml');
    h.town.ports.files.write(toml, `${h.town.ports.files.read(toml) ?? ''}\n[telemetry]\notlp_endpoint = "${receiver.url}"\ninterval = "1h"\n`);
    h.town.reloadConfig();
    const sink = await telemetrySink(h.town);
    expect(sink).toBeDefined();
    onCleanup(() => sink?.shutdown());

    // The first pass starts at the head: nothing old is replayed.
    await h.ledger.emit({ kind: 'mail.sent', agent: 'mayor', payload: { subject: 'before the exporter' } });
    expect(await telemetryPass(h.town, sink!, { withMetrics: false })).toBe(0);

    await h.ledger.emit({ kind: 'bead.slung', rig: 'app', bead: 'app-1', agent: 'app/polecats/nux', payload: { runtime: 'claude', title: 'One' } });
    await h.ledger.emit({ kind: 'mr.queued', rig: 'app', bead: 'app-1', agent: 'app/polecats/nux', payload: { merge_request: 'app-mr1' } });
    await h.ledger.emit({ kind: 'mr.merged', rig: 'app', bead: 'app-1', agent: 'app/polecats/nux', payload: { merge_request: 'app-mr1', commit: 'abc' } });
    await h.ledger.emit({ kind: 'session.died', rig: 'app', agent: 'app/polecats/nux', payload: { token: 'sk-ant-api03-secretsecretsecretsecret' } });
    expect(await telemetryPass(h.town, sink!, { withMetrics: true })).toBe(4);
    // A second pass sends only what is new.
    await h.ledger.emit({ kind: 'mr.rejected', rig: 'app', bead: 'app-2', payload: { merge_request: 'app-mr2', reason: 'tests failed' } });
    expect(await telemetryPass(h.town, sink!, { withMetrics: false })).toBe(1);
    await sink!.flush();

    expect(receiver.received.every((r) => r.contentType.includes('json'))).toBe(true);
    const logs = logRecords(receiver.received);
    expect(logs.map((l) => l.kind)).toEqual(['bead.slung', 'mr.queued', 'mr.merged', 'session.died', 'mr.rejected']);
    expect(logs[0]?.resource).toMatchObject({ 'service.name': 'gt', 'service.namespace': 'test' });
    expect(logs[0]?.attributes).toMatchObject({
      'gt.event.kind': 'bead.slung',
      'gt.rig': 'app',
      'gt.bead': 'app-1',
      'gt.agent': 'app/polecats/nux',
      'gt.runtime': 'claude',
    });
    expect(JSON.stringify(logs)).not.toContain('secretsecret');

    const points = gauges(receiver.received);
    const total = (name: string) => points.find((p) => p.name === name && Object.keys(p.attributes).length === 0)?.value;
    expect(total('gt.beads.merged')).toBe(1);
    expect(total('gt.mq.success_rate')).toBe(1);
    expect(total('gt.mq.wait.p50')).toBeGreaterThanOrEqual(0);
    expect(points.find((p) => p.name === 'gt.beads.merged' && p.attributes['gt.rig'] === 'app')?.value).toBe(1);
    expect(points.find((p) => p.name === 'gt.beads.merged' && p.attributes['gt.runtime'] === 'claude')?.value).toBe(1);
  });

  it('is off without an endpoint, and town.toml names a bad one', async () => {
    const h = await townHarness();
    expect(await telemetrySink(h.town)).toBeUndefined();
    const toml = join(h.root, 'town.toml');
    h.town.ports.files.write(toml, `${h.town.ports.files.read(toml) ?? ''}\n[telemetry]\notlp_endpoint = "localhost:4318"\n`);
    h.town.reloadConfig();
    expect(() => h.town.config).toThrow(/telemetry\.otlp_endpoint/);
  });
});
