/**
 * The deacon: one daemon per town (`gt up`). Holds `.gt/daemon.pid` as a lock
 * (a dead holder's pidfile is taken over), logs to `.gt/daemon.log` in
 * logfmt, and runs the patrol loops: each rig's refinery (beside the loop, so a
 * long batch never delays the others), convoys, gates, the witness, escalations
 * (closed with their subject, raised again when nobody acked them), and the
 * dogs (maintenance jobs, beside the loop too). On SIGTERM
 * it finishes the pass it is in and waits for batches in flight, then exits.
 */
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { parseDuration } from '../shared/duration.js';
import { runRefinery } from '../core/merge/refinery.js';
import { witnessPatrol } from '../core/agents/witness.js';
import { ackFromChannel, reescalateStale, settleEscalations } from '../core/comms/escalations.js';
import { heartbeatPass } from '../core/heartbeat/heartbeat.js';
import { checkRuntime } from '../core/work/work.js';
import { checkConvoys } from '../core/work/convoys.js';
import { checkGates } from '../core/work/gates.js';
import { resumeGatedWork } from '../core/work/molecule-work.js';
import { convoysOnEvents, feedStrandedConvoys, latestEventId } from '../core/work/stranded.js';
import { dispatchQueue, resumeAfterBackoff } from '../core/scheduler/dispatch.js';
import { HOST_LOCAL_DOGS, runDueDogs } from '../core/dogs/dogs.js';
import { holdTownJobs, markLostHosts, renewHost } from '../core/hosts/hosts.js';
import { rigsHere } from '../core/hosts/placement.js';
import { releaseMovedRigs, syncPlacedRigs } from '../core/hosts/rigs.js';
import { leasePath, writeLease, type PassCost } from '../core/town/daemon-health.js';
import { dogPorts, fileLogger, lockDaemon, notifyPort, openTown, reapOrphans, runtimeProbe, telemetrySink } from '../app/index.js';
import { telemetryPass } from '../core/metrics/telemetry.js';
import { drainOutbox, notifyChannels } from '../core/notify/outbox.js';
import { notifyOnEvents, sendDigestIfDue } from '../core/notify/subscriptions.js';
import { pollAnswers } from '../core/notify/answers.js';
import type { Town } from '../core/town/town.js';
import type { LogFields, LogLevel } from '../shared/log.js';
import { DAEMON_LOGFILE, DOGS_LOGFILE } from '../shared/paths.js';
import { errorMessage } from '../shared/errors.js';
import { TEAM_MODE_ENV } from '../core/agents/team-mode.js';
import { refreshSwarmViews } from '../app/swarm.js';

/** The town's notification channels; none while town.toml is broken (the loop logs that elsewhere). */
function safeChannels(town: Town) {
  try {
    return notifyChannels(town.config);
  } catch {
    return new Map<string, never>();
  }
}

export async function runDeacon(root: string, env: NodeJS.ProcessEnv): Promise<number> {
  const logger = fileLogger(join(root, DAEMON_LOGFILE));
  const log = (level: LogLevel, msg: string, fields: LogFields = {}) => logger.log(level, msg, fields);
  let release: () => void;
  try {
    release = await lockDaemon(root);
  } catch {
    log('info', 'another daemon holds the pidfile; exiting', { pid: process.pid });
    return 0;
  }
  let stopping = false;
  let wake: () => void = () => undefined;
  const stop = (signal: string) => {
    if (!stopping) log('info', 'stopping', { signal });
    stopping = true;
    wake();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const town = await openTown(root, env, 'deacon', (line) => log('info', line));
  const interval = parseDuration(town.config.daemon.interval);
  log('info', 'started', { pid: process.pid, interval: town.config.daemon.interval });
  // The lease: renewed as the loop turns, so gt status and gt doctor tell a hung daemon from a busy one.
  const startedAt = town.ports.now();
  // The team mode, captured once (gt up --mode, town.toml sessions.mode; auto against the terminal gt up ran in): its slings and restarts use it.
  let teamMode: string | undefined;
  try {
    teamMode = town.captureTeamMode();
    log('info', 'team.mode', { mode: teamMode, setting: env[TEAM_MODE_ENV] ?? town.config.sessions.mode });
  } catch (error) {
    log('warn', 'team mode unresolved', { error: errorMessage(error) });
  }
  let passes = 0;
  let lastPass: PassCost | undefined;
  let leaseWritten = { at: 0, passes: -1 };
  const renew = () => {
    // Renewed after each agent of a patrol too (a wake waits seconds); written at most once a second
    // within a pass, since each write is an fsync'd rename (50 agents: 9 s of CPU a minute).
    const at = Date.now();
    if (passes === leaseWritten.passes && at - leaseWritten.at < 1000) return;
    leaseWritten = { at, passes };
    writeLease(town.ports.files, root, {
      pid: process.pid,
      started_at: startedAt,
      renewed_at: town.ports.now(),
      passes,
      interval_ms: parseDuration(town.config.daemon.interval),
      stale_after_ms: parseDuration(town.config.daemon.stale_after),
      ...(teamMode ? { team_mode: teamMode } : {}),
      ...(lastPass ? { last_pass: lastPass } : {}),
    });
  };
  // A town across hosts: this machine's heartbeat in the shared ledger, its placed rigs cloned, the others watched.
  // A `gt host join` while this daemon runs sets [host] in town.toml: the pass that re-reads it starts the host (startHost).
  let hostName = town.hostName;
  let hostBeat: Promise<void> | undefined;
  // One host at a time runs the town-wide jobs (the hq-town-jobs lease); a town with no [host] runs them always.
  let townJobs = !hostName;
  const hostPass = async () => {
    if (!hostName) return;
    const running = (await town.agents()).filter((a) => a.host === hostName && a.backend);
    let agents = 0;
    for (const agent of running) if (await town.sessionAlive(agent)) agents++;
    await renewHost(town, hostName, { pid: process.pid, load: Math.round((loadavg()[0] ?? 0) * 100) / 100, cores: cpus().length, agents });
    for (const lost of await markLostHosts(town, hostName)) log('warn', 'host.lost', { host: lost });
    const held = await holdTownJobs(town, hostName);
    if (held !== townJobs) log('info', held ? 'host.town_jobs_taken' : 'host.town_jobs_released', { host: hostName });
    townJobs = held;
    for (const synced of [...(await syncPlacedRigs(town)), ...(await releaseMovedRigs(town))])
      log('info', `rig.${synced.action}`, { rig: synced.rig, detail: synced.detail });
  };
  const beat = () => {
    hostBeat ??= hostPass()
      .catch((error: unknown) => log('error', 'host pass failed', { host: hostName, error: errorMessage(error) }))
      .finally(() => (hostBeat = undefined));
    return hostBeat;
  };
  let heartbeatTimer: NodeJS.Timeout | undefined;
  const startHost = async () => {
    if (!hostName) return;
    await beat();
    log('info', 'host.up', { host: hostName });
    // On its own clock too: a long witness pass (wakes wait for their confirmation) must not look like a lost host.
    const period = Math.max(250, Math.min(interval, parseDuration(town.config.host.lost_after) / 3));
    heartbeatTimer = setInterval(() => void beat(), period);
  };
  await startHost();
  // A daemon killed mid-batch left its test (or gate command) running: end it before starting again.
  for (const orphan of await reapOrphans(root)) log('warn', 'orphan.reaped', { pgid: orphan.pgid, command: orphan.command });
  // Convoys: one full check for what closed while no daemon ran, then only close events.
  for (const landed of await checkConvoys(town)) log('info', 'convoy.landed', { convoy: landed.id, name: landed.name, beads: landed.total });
  let cursor = await latestEventId(town);
  renew();
  const probe = runtimeProbe(env);
  const telemetry = await telemetrySink(town).catch((error: unknown) => {
    log('warn', 'telemetry is off: its exporter did not start', { error: errorMessage(error) });
    return undefined;
  });
  if (telemetry) log('info', 'telemetry.on', { endpoint: town.config.telemetry.otlp_endpoint, interval: town.config.telemetry.interval });
  let exporting: Promise<unknown> | undefined;
  let metricsAt = 0;
  const refineries = new Map<string, Promise<void>>();
  // The dispatch queue runs beside the loop too: with a start spacing one pass can take a while.
  let dispatching: Promise<void> | undefined;
  const notifier = notifyPort(env);
  let notifying: Promise<void> | undefined;
  const pollers = new Map<string, Promise<void>>();
  const polling = new AbortController();
  // A pause that shutdown cuts short.
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const timer = setTimeout(r, ms);
      polling.signal.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
    });
  // One long poll per Telegram channel with buttons, beside the loop: a press is applied within seconds, whatever a pass is doing.
  const startPollers = () => {
    for (const [name, channel] of safeChannels(town)) {
      if (channel.type !== 'telegram' || !channel.buttons || pollers.has(name)) continue;
      const poll = (async () => {
        while (!stopping) {
          const current = safeChannels(town).get(name);
          if (current?.type !== 'telegram' || !current.buttons) return;
          try {
            for (const answer of await pollAnswers(town, notifier, name, current, { waitSec: 25, signal: polling.signal, ack: ackFromChannel })) {
              log(answer.accepted ? 'info' : 'warn', answer.accepted ? 'notification.answered' : 'notification.refused', {
                channel: name,
                chat: answer.chat,
                from: answer.from,
                data: answer.data,
                result: answer.text,
              });
            }
          } catch (error) {
            if (stopping) return;
            log('warn', 'notify answers poll failed', { channel: name, error: errorMessage(error) });
            // A bot that is down or misconfigured is asked again in a while, not every pass (each failure is a log line).
            await sleep(Math.max(interval, 15_000));
          }
        }
      })().finally(() => pollers.delete(name));
      pollers.set(name, poll);
    }
  };
  // The heartbeat runs beside the loop too: starting its agent or waiting for it at its prompt takes seconds.
  let heartbeat: Promise<void> | undefined;
  const dogs = dogPorts();
  let dogPass: Promise<void> | undefined;
  // The ledger's wake-up (issue 19: PostgreSQL LISTEN, SQLite's data_version), for commits of other processes only.
  let changed = false;
  let onChange: () => void = () => undefined;
  const unwatch = await town.ledger
    .watchEvents(
      () => {
        changed = true;
        onChange();
      },
      { foreign: true },
    )
    .catch((error: unknown) => {
      log('warn', 'the ledger cannot wake the daemon; it runs every interval', { error: errorMessage(error) });
      return undefined;
    });
  try {
    while (!stopping) {
      const passStart = { at: performance.now(), cpu: process.cpuUsage() };
      await beat();
      // Across hosts, only the rigs placed on this host are this daemon's to merge and supervise.
      const rigs = await rigsHere(town).catch((error: unknown) => {
        log('error', 'reading rig placement failed', { error: errorMessage(error) });
        return [] as string[];
      });
      // Each rig's refinery runs beside the loop (a batch's gates can take minutes), one at a time per rig.
      for (const rig of rigs) {
        if (stopping || refineries.has(rig)) continue;
        const pass = runRefinery(town, rig, { probe })
          .then((outcomes) => {
            for (const outcome of outcomes) {
              log(outcome.result === 'rejected' ? 'warn' : 'info', `mr.${outcome.result}`, {
                rig,
                mr: outcome.merge_request,
                bead: outcome.bead,
                ...(outcome.commit ? { commit: outcome.commit } : {}),
                ...(outcome.batch ? { batch: outcome.batch } : {}),
                ...(outcome.reason ? { reason: outcome.reason } : {}),
                ...(outcome.pr ? { pr: outcome.pr } : {}),
              });
            }
          })
          .catch((error: unknown) => log('error', 'refinery pass failed', { rig, error: errorMessage(error) }))
          .finally(() => refineries.delete(rig));
        refineries.set(rig, pass);
      }
      if (!stopping && !heartbeat && townJobs) {
        heartbeat = heartbeatPass(town, { checkRuntime: (runtime) => checkRuntime(runtime, probe) })
          .then((outcomes) => {
            for (const o of outcomes)
              log(o.result === 'failed' ? 'warn' : 'info', `heartbeat.${o.result}`, {
                agent: o.agent,
                id: o.id,
                ...(o.reason ? { reason: o.reason } : {}),
              });
          })
          .catch((error: unknown) => log('error', 'heartbeat pass failed', { error: errorMessage(error) }))
          .finally(() => (heartbeat = undefined));
      }
      if (!stopping) {
        try {
          town.reloadConfig();
          if (!hostName && town.hostName) {
            hostName = town.hostName;
            await startHost();
          }
          const events = await convoysOnEvents(town, cursor);
          cursor = events.cursor;
          for (const landed of events.landed) log('info', 'convoy.landed', { convoy: landed.id, name: landed.name, beads: landed.total });
          for (const fed of townJobs ? await feedStrandedConvoys(town, probe) : []) {
            log(fed.action === 'failed' || fed.action === 'skipped' ? 'warn' : 'info', `convoy.${fed.action}`, {
              convoy: fed.convoy,
              ...(fed.bead ? { bead: fed.bead } : {}),
              detail: fed.detail,
            });
          }
          renew();
          const runGate = (command: string) => town.ports.shell.run(command, { cwd: root, env: town.ports.baseEnv, timeoutMs: 60_000 });
          for (const outcome of townJobs ? await checkGates(town, runGate) : []) {
            if (outcome.result !== 'waiting')
              log(outcome.result === 'resolved' ? 'info' : 'warn', `gate.${outcome.result}`, { gate: outcome.gate, detail: outcome.detail });
          }
          renew();
          for (const resumed of await resumeGatedWork(town)) {
            log(resumed.error ? 'warn' : 'info', resumed.error ? 'agent.resume_failed' : 'agent.resumed', {
              agent: resumed.agent,
              molecule: resumed.molecule,
              ...(resumed.error ? { error: resumed.error } : {}),
            });
          }
          for (const resumed of await resumeAfterBackoff(town)) {
            log(resumed.result === 'resumed' ? 'info' : 'warn', `runtime.${resumed.result}`, {
              runtime: resumed.runtime,
              agent: resumed.agent,
              detail: resumed.detail,
            });
          }
          renew();
          // The witness, rig by rig (then the town's own agents: the Mayor).
          for (const rig of townJobs ? [...rigs, undefined] : rigs) {
            for (const action of await witnessPatrol(town, { ...(rig === undefined ? { townOnly: true } : { rig }), pass: passes + 1, progress: renew })) {
              log(action.action === 'woken' || action.action === 'restarted' ? 'info' : 'warn', `agent.${action.action}`, {
                agent: action.agent,
                bead: action.bead,
                ...(action.state ? { state: action.state } : {}),
                detail: action.detail,
              });
            }
            renew();
          }
          // Open swarm views follow the town: a finished polecat's pane leaves, a new sling's pane comes (issue 17 §1).
          await refreshSwarmViews(town, env).catch((error: unknown) => log('warn', 'swarm view refresh failed', { error: errorMessage(error) }));
          for (const closed of townJobs ? await settleEscalations(town) : [])
            log('info', 'escalation.closed', { escalation: closed, why: 'its subject closed' });
          for (const again of townJobs ? await reescalateStale(town) : []) log('warn', 'escalation.reescalated', { ...again });
        } catch (error) {
          log('error', 'witness pass failed', { error: errorMessage(error) });
        }
        dispatching ??= dispatchQueue(town, probe, { stopping: () => stopping })
          .then((outcomes) => {
            for (const o of outcomes) {
              log(o.result === 'dispatched' ? 'info' : 'warn', `queue.${o.result}`, {
                bead: o.bead,
                target: o.target,
                ...(o.agent ? { agent: o.agent } : {}),
                ...(o.detail ? { detail: o.detail } : {}),
              });
            }
          })
          .catch((error: unknown) => log('error', 'dispatch pass failed', { error: errorMessage(error) }))
          .finally(() => (dispatching = undefined));
        passes++;
        const cpu = process.cpuUsage(passStart.cpu);
        lastPass = { at: town.ports.now(), duration_ms: Math.round(performance.now() - passStart.at), cpu_ms: Math.round((cpu.user + cpu.system) / 1000) };
        renew();
      }
      // Notifications beside the loop too: a channel that hangs until its time-out never delays supervision.
      if (!stopping && notifying === undefined) {
        notifying = (async () => {
          await notifyOnEvents(town);
          const digest = await sendDigestIfDue(town);
          if (digest) log('info', 'notify.digest', { day: digest });
          for (const d of await drainOutbox(town, notifier)) {
            if (d.outcome === 'busy') continue;
            log(d.outcome === 'sent' || d.outcome === 'held' || d.outcome === 'rate-limited' ? 'info' : 'warn', `notification.${d.outcome}`, {
              id: d.id,
              channel: d.channel,
              ...(d.next_at ? { next_at: d.next_at } : {}),
              ...(d.error ? { error: d.error } : {}),
            });
          }
        })()
          .catch((error: unknown) => log('error', 'notify pass failed', { error: errorMessage(error) }))
          .finally(() => (notifying = undefined));
      }
      // OpenTelemetry (town.toml [telemetry]): new events as logs every pass, the outcome gauges every interval.
      if (!stopping && telemetry && !exporting && townJobs) {
        const withMetrics = Date.now() - metricsAt >= parseDuration(town.config.telemetry.interval);
        if (withMetrics) metricsAt = Date.now();
        const sink = telemetry;
        exporting = telemetryPass(town, sink, { withMetrics })
          .then((sent) => (sent ? log('info', 'telemetry.exported', { events: sent }) : undefined))
          .catch((error: unknown) => log('warn', 'telemetry pass failed', { error: errorMessage(error) }))
          .finally(() => (exporting = undefined));
      }
      if (!stopping) startPollers();
      // Dogs (maintenance jobs) run beside the loop too, one pass at a time, each dog when it is due.
      if (!stopping && !dogPass) {
        dogPass = runDueDogs(town, dogs, townJobs ? {} : { only: HOST_LOCAL_DOGS })
          .then((runs) => {
            for (const run of runs) {
              if (run.result === 'nothing') continue;
              log(run.result === 'failed' ? 'warn' : 'info', `dog.${run.result === 'failed' ? 'failed' : 'ran'}`, {
                dog: run.dog,
                actions: run.actions.length,
                duration_ms: run.duration_ms,
                ...(run.error ? { error: run.error } : {}),
                details: DOGS_LOGFILE,
              });
            }
          })
          .catch((error: unknown) => log('error', 'dog pass failed', { error: errorMessage(error) }))
          .finally(() => (dogPass = undefined));
      }
      const passEnded = Date.now();
      await new Promise<void>((resolvePromise) => {
        let soon: NodeJS.Timeout | undefined;
        const timer = setTimeout(resolvePromise, interval);
        wake = () => {
          clearTimeout(timer);
          clearTimeout(soon);
          resolvePromise();
        };
        // Another process's event (a sling, a merge request, mail, a signal) starts the next pass early: at most one pass per 2 s.
        onChange = () => (soon ??= setTimeout(wake, Math.max(0, passEnded + Math.min(interval, 2_000) - Date.now())));
        if (changed) onChange();
      });
      changed = false;
      onChange = () => undefined;
    }
  } finally {
    unwatch?.();
    // A batch in flight finishes (gt down waits 30 s, then SIGKILL, which the refinery's journal survives).
    polling.abort();
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    await Promise.allSettled([
      ...refineries.values(),
      ...pollers.values(),
      ...(notifying ? [notifying] : []),
      ...(heartbeat ? [heartbeat] : []),
      ...(dispatching ? [dispatching] : []),
      ...(dogPass ? [dogPass] : []),
      ...(exporting ? [exporting] : []),
      ...(hostBeat ? [hostBeat] : []),
    ]);
    // What the batch processors hold goes out before the daemon does.
    await telemetry?.flush().catch(() => undefined);
    await telemetry?.shutdown();
    await town.ledger.release();
    town.ports.files.remove(leasePath(root));
    release();
    log('info', 'stopped', { pid: process.pid });
  }
  return 0;
}
