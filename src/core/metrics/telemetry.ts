/**
 * OpenTelemetry export (issue 16): the event stream as log records and the
 * outcome metrics as gauges, so a team sees gt beside its other services in
 * Grafana or any OTLP backend. This is the pass the daemon runs; the OTLP
 * client itself is a port (src/infra/telemetry.ts implements it).
 */
import { TELEMETRY_CURSOR } from '../../shared/paths.js';
import type { TownEvent } from '../events/town-events.js';
import type { Town } from '../town/town.js';
import { computeMetrics, loadMetricsInput, type Metrics } from './metrics.js';

export interface TelemetrySink {
  /** Events become log records (body: the event's kind, attributes: its fields). */
  logs(events: TownEvent[]): void;
  /** The figures the gauges report from now on: the last 24 hours, whole and by rig and runtime. */
  metrics(window: { total: Metrics; byRig: Metrics; byRuntime: Metrics }): void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Sends what happened since the last pass (the cursor is kept in a file, so a
 * restarted daemon neither repeats nor skips events) and, when `withMetrics`,
 * the current figures. Returns how many events went out.
 */
export async function telemetryPass(town: Town, sink: TelemetrySink, options: { withMetrics: boolean; now?: number }): Promise<number> {
  const file = town.path(TELEMETRY_CURSOR);
  const saved = Number(town.ports.files.read(file) ?? NaN);
  // The first pass starts at the head: a new exporter does not replay the town's whole history.
  let cursor = Number.isInteger(saved) ? saved : await town.ledger.lastTownEventId();
  let sent = 0;
  for (;;) {
    const events = await town.ledger.townEvents(cursor, {}, 1000);
    if (events.length === 0) break;
    sink.logs(events);
    sent += events.length;
    cursor = events.at(-1)?.id ?? cursor;
    if (events.length < 1000) break;
  }
  town.ports.files.write(file, String(cursor));
  if (options.withMetrics) {
    const now = options.now ?? Date.now();
    const input = await loadMetricsInput(town);
    const window = { until: new Date(now).toISOString(), since: new Date(now - 24 * 3_600_000).toISOString() };
    sink.metrics({
      total: computeMetrics(input, window),
      byRig: computeMetrics(input, { ...window, by: 'rig' }),
      byRuntime: computeMetrics(input, { ...window, by: 'runtime' }),
    });
  }
  return sent;
}
