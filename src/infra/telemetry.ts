/**
 * The OTLP/HTTP client for gt's telemetry (core/metrics/telemetry.ts), with
 * the official OpenTelemetry SDK: a LoggerProvider whose batch processor
 * posts log records to `<endpoint>/v1/logs`, and a MeterProvider whose reader
 * posts the outcome gauges to `<endpoint>/v1/metrics` every interval.
 */
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { TownEvent } from '../core/events/town-events.js';
import type { Metrics, MetricsRow } from '../core/metrics/metrics.js';
import type { TelemetrySink } from '../core/metrics/telemetry.js';
import { redactSecrets } from '../shared/secrets.js';

export interface OtlpOptions {
  endpoint: string;
  serviceName: string;
  /** The town's name, on every record (service.namespace). */
  town: string;
  intervalMs: number;
}

const SEVERITY: Record<string, SeverityNumber> = {
  'session.died': SeverityNumber.ERROR,
  'agent.stalled': SeverityNumber.WARN,
  'mr.rejected': SeverityNumber.WARN,
  'gate.escalated': SeverityNumber.WARN,
  'escalation.raised': SeverityNumber.ERROR,
  'budget.stopped': SeverityNumber.ERROR,
};

type Attributes = Record<string, string | number | boolean>;

function flat(prefix: string, value: unknown, into: Attributes): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') into[prefix] = redactSecrets(value);
  else if (typeof value === 'number' || typeof value === 'boolean') into[prefix] = value;
  else into[prefix] = redactSecrets(JSON.stringify(value));
}

export function otlpSink(options: OtlpOptions): TelemetrySink {
  const base = options.endpoint.replace(/\/+$/, '');
  const resource = resourceFromAttributes({ 'service.name': options.serviceName, 'service.namespace': options.town });
  const logs = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })] });
  const logger = logs.getLogger('gt.events');
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
    exportIntervalMillis: options.intervalMs,
  });
  const meters = new MeterProvider({ resource, readers: [reader] });
  const meter = meters.getMeter('gt.metrics');
  let current: { total: Metrics; byRig: Metrics; byRuntime: Metrics } | undefined;

  /** One gauge per figure: the town's total, and one series per rig and per runtime. */
  const gauge = (name: string, description: string, unit: string, pick: (row: MetricsRow, m: Metrics) => number | null) => {
    meter.createObservableGauge(name, { description, unit }).addCallback((result) => {
      if (!current) return;
      const observe = (row: MetricsRow, m: Metrics, attributes: Attributes) => {
        const value = pick(row, m);
        if (value !== null) result.observe(value, attributes);
      };
      observe(current.total.total, current.total, {});
      for (const row of current.byRig.rows) observe(row, current.byRig, { 'gt.rig': row.key });
      for (const row of current.byRuntime.rows) observe(row, current.byRuntime, { 'gt.runtime': row.key });
    });
  };
  gauge('gt.beads.merged', 'Beads merged in the last 24 hours', '{bead}', (r) => r.merged);
  gauge('gt.beads.merged_per_hour', 'Beads merged per hour over the last 24 hours', '{bead}/h', (r) => r.merged / 24);
  gauge('gt.mq.rejected', 'Merge requests rejected in the last 24 hours', '{request}', (r) => r.rejected);
  gauge('gt.mq.success_rate', 'Merged / decided merge requests, last 24 hours', '1', (r) => r.success_rate);
  gauge('gt.mq.wait.p50', 'Median merge-queue wait, last 24 hours', 'ms', (r) => (r.mq_wait.count ? r.mq_wait.p50_ms : null));
  gauge('gt.mq.wait.p90', '90th percentile merge-queue wait, last 24 hours', 'ms', (r) => (r.mq_wait.count ? r.mq_wait.p90_ms : null));
  gauge('gt.rework', 'Beads rejected or slung again, last 24 hours', '{bead}', (r) => r.rework);
  gauge('gt.cost.usd', 'USD spent in the last 24 hours', 'USD', (r) => r.usd);
  gauge('gt.cost.usd_per_merged_bead', 'USD per merged bead, last 24 hours', 'USD', (r) => r.usd_per_merged);
  gauge('gt.tokens_per_merged_bead', 'Tokens per merged bead, last 24 hours', '{token}', (r) => r.tokens_per_merged);
  meter
    .createObservableGauge('gt.convoy.human_interventions', { description: 'Human interventions per convoy, last 24 hours', unit: '{action}' })
    .addCallback((result) => {
      for (const c of current?.total.interventions ?? [])
        result.observe(c.interventions, { 'gt.convoy': c.convoy, ...(c.name ? { 'gt.convoy.name': c.name } : {}) });
    });

  return {
    logs(events: TownEvent[]) {
      for (const event of events) {
        const attributes: Attributes = { 'gt.event.id': event.id, 'gt.event.kind': event.kind, 'gt.actor': event.actor };
        if (event.rig) attributes['gt.rig'] = event.rig;
        if (event.bead) attributes['gt.bead'] = event.bead;
        if (event.agent) attributes['gt.agent'] = event.agent;
        for (const [key, value] of Object.entries(event.payload)) flat(`gt.${key}`, value, attributes);
        logger.emit({
          eventName: event.kind,
          body: event.kind,
          timestamp: new Date(event.at),
          severityNumber: SEVERITY[event.kind] ?? SeverityNumber.INFO,
          severityText:
            (SEVERITY[event.kind] ?? SeverityNumber.INFO) >= SeverityNumber.ERROR
              ? 'ERROR'
              : (SEVERITY[event.kind] ?? 0) >= SeverityNumber.WARN
                ? 'WARN'
                : 'INFO',
          attributes,
        });
      }
    },
    metrics(window) {
      current = window;
    },
    async flush() {
      await Promise.all([logs.forceFlush(), meters.forceFlush()]);
    },
    async shutdown() {
      await Promise.allSettled([logs.shutdown(), meters.shutdown()]);
    },
  };
}
