/**
 * The work in flight: budgets that pause dispatch, and merge requests that
 * wait with nothing to merge them (no daemon, a batch interrupted, a branch
 * that is gone).
 */
import { parseDuration } from '../../shared/duration.js';
import { costReport, type Tokens } from '../governance/costs.js';
import { mergeQueue, queueStatus } from '../merge/refinery.js';
import { notifyChannels } from '../notify/outbox.js';
import { schedulerStatus } from '../scheduler/dispatch.js';
import { listed, rigsOf, townConfigOf, townOf, type DoctorCheck } from './doctor.js';

/** A request queued this long while the queue runs is stuck, not waiting its turn. */
const STUCK_AFTER = '1h';
/** Spending past this share of a budget is a warning: dispatch pauses at 100%. */
const BUDGET_WARN = 0.8;

const totalTokens = (t: Tokens) => t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens;

export const budgetsCheck: DoctorCheck = {
  name: 'budgets',
  title: "today's spend against the town's budgets",
  async run(context) {
    const town = townOf(context);
    const budgets = townConfigOf(context).budgets;
    if (budgets.daily_usd === undefined && budgets.daily_tokens === undefined) {
      return {
        status: 'ok',
        message: `no daily budget set${budgets.convoy_usd !== undefined || budgets.convoy_tokens !== undefined ? ' (convoy budgets are checked at sling)' : ''}`,
      };
    }
    const { total } = await costReport(town, 'day', { since: town.ports.now().slice(0, 10) });
    const spent: Array<{ text: string; share: number }> = [];
    if (budgets.daily_usd !== undefined)
      spent.push({ text: `$${total.usd.toFixed(2)} of budgets.daily_usd = ${budgets.daily_usd}`, share: total.usd / budgets.daily_usd });
    if (budgets.daily_tokens !== undefined)
      spent.push({ text: `${totalTokens(total)} tokens of budgets.daily_tokens = ${budgets.daily_tokens}`, share: totalTokens(total) / budgets.daily_tokens });
    const worst = Math.max(...spent.map((s) => s.share));
    const text = `today: ${spent.map((s) => s.text).join(', ')}`;
    if (worst >= 1) {
      return {
        status: 'fail',
        message: `${text}: dispatch is paused (new slings are refused; running agents finish their turn)`,
        fix: 'raise the budget (gt config set budgets.daily_usd <n>) or wait for tomorrow (UTC)',
      };
    }
    if (worst >= BUDGET_WARN) return { status: 'warn', message: `${text} (${Math.round(worst * 100)}%)`, fix: 'dispatch pauses at 100%' };
    return { status: 'ok', message: text };
  },
};

export const mergeQueueCheck: DoctorCheck = {
  name: 'merge-queue',
  title: 'merge requests are moving (no stuck request, no batch left half-done)',
  async run(context) {
    const town = townOf(context);
    const daemon = context.ports.daemon.status();
    const now = Date.parse(town.ports.now());
    const stuckMs = parseDuration(STUCK_AFTER);
    const problems: string[] = [];
    let queued = 0;
    for (const { name } of rigsOf(context)) {
      const status = await queueStatus(town, name);
      queued += status.queued;
      if (status.in_flight.length && !status.running) {
        problems.push(
          `${name}: a batch of ${status.in_flight.length} was interrupted mid-merge (${listed(status.in_flight, 3)}); the next refinery run finishes or discards it`,
        );
      }
      for (const mr of await mergeQueue(town, name)) {
        const branch = typeof mr.metadata?.branch === 'string' ? mr.metadata.branch : undefined;
        if (branch && (await town.ports.git.probe(town.repoDir(name), ['rev-parse', '--verify', '-q', `refs/heads/${branch}`])).code !== 0) {
          problems.push(
            `${mr.id}: its branch ${branch} is gone, so it can never merge (gt mq reject ${mr.id} --reason "branch gone", then sling the bead again)`,
          );
        } else if (now - Date.parse(mr.created_at) > stuckMs && !status.running) {
          problems.push(`${mr.id} (${name}) has waited since ${mr.created_at}${daemon.running ? '' : ': the daemon, which runs the refinery, is not running'}`);
        }
      }
    }
    if (problems.length === 0) return { status: 'ok', message: `${queued} request(s) queued, none stuck` };
    return {
      status: 'warn',
      message: listed(problems, 3),
      fix: daemon.running
        ? 'gt mq status <rig> shows the queue; gt mq run <rig> runs it now'
        : 'gt up starts the daemon, whose refinery merges the queue (or gt mq run <rig> once)',
      details: problems,
    };
  },
};

/** A notification due this long ago and still pending means nothing drains the outbox. */
const OVERDUE_MS = 10 * 60_000;

export const notificationsCheck: DoctorCheck = {
  name: 'notifications',
  title: 'notifications reach their channels (no failures, nothing overdue in the outbox)',
  async run(context) {
    const town = townOf(context);
    const channels = notifyChannels(townConfigOf(context));
    if (channels.size === 0) return { status: 'ok', message: 'no notification channel configured ([notify.<name>] in town.toml)' };
    const now = Date.parse(town.ports.now());
    const since = new Date(now - 24 * 3600_000).toISOString();
    const failed = (await town.ledger.notifications({ statuses: ['failed'], newestFirst: true, limit: 100 })).filter((n) => n.created_at >= since);
    const overdue = await town.ledger.notifications({ statuses: ['pending'], dueBy: new Date(now - OVERDUE_MS).toISOString(), limit: 100 });
    const problems = [
      ...failed.map((n) => `#${n.id} to ${n.channel} failed (${n.title}): ${n.last_error ?? 'no error recorded'}`),
      ...overdue.map((n) => `#${n.id} to ${n.channel} has been due since ${n.next_at}`),
    ];
    if (problems.length === 0)
      return { status: 'ok', message: `${channels.size} channel(s): ${[...channels.keys()].join(', ')}; nothing failed in 24 h, nothing overdue` };
    return {
      status: 'warn',
      message: `${failed.length} failed in 24 h, ${overdue.length} overdue: ${listed(problems, 2)}`,
      fix:
        overdue.length && !context.ports.daemon.status().running
          ? 'gt up: the daemon drains the outbox'
          : 'gt notify log shows them; gt notify test <channel> checks a channel',
      details: problems,
    };
  },
};

export const schedulerCheck: DoctorCheck = {
  name: 'scheduler',
  title: 'queued work can be dispatched (a daemon to dispatch it, no runtime backed off)',
  async run(context) {
    const status = await schedulerStatus(townOf(context), 3);
    const problems: string[] = [];
    for (const b of status.backoffs.filter((b) => b.active))
      problems.push(`${b.runtime} is backed off until ${b.until} after rate limits (${b.reason}); ${b.agents.length} agent(s) wait to resume`);
    const daemon = context.ports.daemon.status().running;
    if (status.queued > 0 && !daemon) problems.push(`${status.queued} bead(s) are queued, and only the daemon dispatches them`);
    const load = `${status.running} running${status.max_agents !== undefined ? ` of max ${status.max_agents}` : ''}, ${status.queued} queued`;
    if (problems.length === 0) return { status: 'ok', message: load };
    return {
      status: 'warn',
      message: `${load}: ${problems.join('; ')}`,
      fix: daemon ? 'the daemon resumes backed-off agents when the window ends (gt queue shows the queue)' : 'gt up',
      details: problems,
    };
  },
};

export const WORK_CHECKS: readonly DoctorCheck[] = [budgetsCheck, mergeQueueCheck, schedulerCheck, notificationsCheck];
