/** A loopback OTLP/HTTP receiver for the telemetry tests, and readers of what it got (OTLP's JSON encoding). */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './env.js';

export interface Received {
  path: string;
  contentType: string;
  body: Record<string, unknown>;
}

/** An OTLP/HTTP receiver on 127.0.0.1 that keeps every request it gets. */
export async function otlpReceiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => resolve(text));
    });
  const server = createServer((req, res) => {
    void read(req).then((text) => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

type Attr = { key: string; value: Record<string, unknown> };
const attrs = (list: Attr[] = []) => Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));

export function logRecords(received: Received[]) {
  return received
    .filter((r) => r.path === '/v1/logs')
    .flatMap(
      (r) =>
        r.body.resourceLogs as Array<{
          resource: { attributes: Attr[] };
          scopeLogs: Array<{ logRecords: Array<{ body: { stringValue: string }; attributes: Attr[] }> }>;
        }>,
    )
    .flatMap((rl) =>
      rl.scopeLogs.flatMap((s) =>
        s.logRecords.map((l) => ({ resource: attrs(rl.resource.attributes), kind: l.body.stringValue, attributes: attrs(l.attributes) })),
      ),
    );
}

export function gauges(received: Received[]) {
  const points: Array<{ name: string; value: number; attributes: Record<string, unknown> }> = [];
  for (const r of received.filter((x) => x.path === '/v1/metrics')) {
    for (const rm of r.body.resourceMetrics as Array<{
      scopeMetrics: Array<{ metrics: Array<{ name: string; gauge?: { dataPoints: Array<{ asDouble?: number; asInt?: string; attributes?: Attr[] }> } }> }>;
    }>) {
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics)
          for (const p of m.gauge?.dataPoints ?? []) points.push({ name: m.name, value: p.asDouble ?? Number(p.asInt), attributes: attrs(p.attributes) });
    }
  }
  return points;
}
