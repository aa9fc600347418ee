/**
 * "Always allow" (issue 17 §3): a leader's answer that approves a waiting
 * request and adds a rule to the policy, so the same call is not asked again.
 * It changes the policy, so only a person gives it — or a leader when
 * town.toml says `permissions.leaders_always_allow = true` — and never for the
 * leader's own request. The rule goes to the asking agent's rig.toml (town.toml
 * for the Mayor), appended as a `[[permissions.rules]]` table so the file's
 * comments stay, marked `over_ask` (it answers asks, never a deny) and with
 * who added it, when, and for which request; the decision and a
 * `permission.rule_added` event record it in the ledger.
 */
import { stringify } from 'smol-toml';
import { conflictError, GtError, notFoundError, usageError } from '../../shared/errors.js';
import { lockFile } from '../../shared/paths.js';
import { parseToml, renderToml, type PermissionRule } from '../town/config.js';
import type { Town } from '../town/town.js';
import { answerPermission, policyFileOf, ruleText, type PermissionRequestView, type SuggestedRule } from './permissions.js';

/** Who may answer "always allow": a person, or a leader the town's policy lets change it. */
export function mayAlwaysAllow(town: Town, who: { by: string; via: 'person' | 'leader' }): void {
  if (who.via === 'person') return;
  if (town.config.permissions.leaders_always_allow === true) return;
  throw new GtError('conflict', `${who.by} may approve or deny, but "always allow" changes the policy, and that is a person's to do`, {
    hint: 'a person answers it from a terminal that is no agent session; or set permissions.leaders_always_allow = true in town.toml',
  });
}

/** The policy file with one more rule: appended as a table (comments kept), or rewritten when the file's shape needs it. */
function withRule(file: string, text: string, rule: PermissionRule): string {
  // gt writes `rules = []` under [permissions]; an empty inline list gives way to the table appended below.
  let table = '';
  const lines = text.split('\n').filter((line) => {
    const header = /^\s*\[([^\]]+)\]\s*(#.*)?$/.exec(line);
    if (header) table = (header[1] as string).trim();
    return !(table === 'permissions' && /^\s*rules\s*=\s*\[\s*\]\s*(#.*)?$/.test(line));
  });
  const appended = `${lines.join('\n').trimEnd()}\n\n${stringify({ permissions: { rules: [rule] } }).trim()}\n`;
  const parse = (candidate: string) => {
    const raw = parseToml(candidate, file) as { permissions?: { rules?: unknown[] } };
    return raw.permissions?.rules?.length ?? 0;
  };
  try {
    // A file that writes its rules inline (`rules = [...]`) cannot take a table after them.
    if (parse(appended) === parse(text) + 1) return appended;
  } catch {
    // rewritten below
  }
  const raw = parseToml(text, file);
  const permissions = (raw.permissions ?? {}) as Record<string, unknown>;
  const rules = Array.isArray(permissions.rules) ? (permissions.rules as unknown[]) : [];
  raw.permissions = { ...permissions, rules: [...rules, rule] };
  return renderToml(raw);
}

/**
 * Approves a waiting request and adds rule `choice` (1-based) of the ones it
 * suggested to the policy. The file changes first, under a lock, and is put
 * back when the request was answered by someone else meanwhile.
 */
export async function alwaysAllow(
  town: Town,
  idText: string,
  who: { by: string; via: 'person' | 'leader' },
  choice = 1,
  reason?: string,
): Promise<PermissionRequestView> {
  mayAlwaysAllow(town, who);
  const id = await town.ledger.resolveAs(
    idText,
    notFoundError(`no permission request ${JSON.stringify(idText)}`, 'see the waiting ones with gt permission list'),
  );
  const issue = await town.ledger.find(id);
  if (!issue || issue.issue_type !== 'permission') throw notFoundError(`${idText} is not a permission request`, 'see the waiting ones with gt permission list');
  const agent = typeof issue.metadata?.agent === 'string' ? issue.metadata.agent : undefined;
  if (!agent) throw conflictError(`${id} names no agent; answer it with gt permission approve`);
  if (who.via === 'leader' && agent === who.by) throw conflictError(`${who.by} asked for ${id} itself, and no agent approves its own request`);
  if (issue.status === 'closed') throw conflictError(`permission request ${id} was already answered`);
  const suggested = Array.isArray(issue.metadata?.suggested) ? (issue.metadata.suggested as SuggestedRule[]) : [];
  const picked = suggested[choice - 1];
  if (!picked)
    throw usageError(
      `${id} has ${suggested.length} suggested rule(s); --rule ${choice} is not one of them`,
      suggested.map((r, i) => `${i + 1}. ${ruleText(r)}`).join('; ') || 'answer it with gt permission approve',
    );
  const rule: PermissionRule = {
    action: 'allow',
    tool: picked.tool,
    ...(picked.command !== undefined ? { command: picked.command } : {}),
    ...(picked.exact ? { exact: true } : {}),
    ...(picked.path !== undefined ? { path: picked.path } : {}),
    over_ask: true,
    added_by: who.by,
    added_at: town.ports.now(),
    request: id,
  };
  const file = policyFileOf(agent);
  const path = town.path(file);
  const release = await town.ports.files.lock(town.path(lockFile('policy')), { waitMs: 30_000 });
  try {
    const before = town.ports.files.read(path);
    if (before === undefined) throw notFoundError(`${file} does not exist`);
    town.ports.files.write(path, withRule(file, before, rule), 0o600);
    // The new file must load as the policy; a rule it cannot hold leaves it as it was.
    town.reloadConfig();
    try {
      if (file === 'town.toml') void town.config;
      else town.rig(file.slice(0, -'/rig.toml'.length));
    } catch (error) {
      town.ports.files.write(path, before, 0o600);
      town.reloadConfig();
      throw error;
    }
    try {
      return await answerPermission(town, id, 'allow', who, reason, { file, rule: ruleText(rule) });
    } catch (error) {
      // Answered by someone else a moment ago: that answer stands, and so does the policy as it was.
      town.ports.files.write(path, before, 0o600);
      town.reloadConfig();
      throw error;
    }
  } finally {
    release();
  }
}
