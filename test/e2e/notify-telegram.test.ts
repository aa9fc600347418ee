/**
 * Approval from the phone (issue 15 §3) with every part real but Telegram: the
 * real Claude Code (against the scripted model server) asks to run a command,
 * gt's broker holds it, the daemon sends the ask to a Bot API stand-in on
 * loopback with Approve / Deny buttons and long-polls getUpdates; a press from
 * another chat is refused and logged, a press from the configured chat runs the
 * blocked command, with the same audit trail as `gt permission approve`.
 */
import { existsSync, appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bash, claudeInstalled, say, useScriptedClaude } from '../support/claude.js';
import { TelegramStandIn } from '../support/notify-servers.js';
import { makeTown, waitFor } from '../support/town.js';

const TOKEN = 'e2e-bot-token-5a4b3c2d1e';
const CHAT = 4242;

interface Waiting {
  id: string;
  agent: string;
  status: string;
  decided_by?: string;
  decided_via?: string;
  input: { command?: string };
}

describe.skipIf(!claudeInstalled)('Telegram approval of a permission request', () => {
  it('a press from the configured chat runs the blocked command; a press from another chat is refused and logged', async () => {
    const town = makeTown({ rig: 'app' });
    const bot = await TelegramStandIn.start(TOKEN);
    expect(town.gt(['config', 'set', 'permissions.rules', '[{action = "ask", tool = "Bash", command = "touch *.txt"}]']).code).toBe(0);
    expect(town.gt(['config', 'set', 'daemon.interval', '"1s"']).code).toBe(0);
    appendFileSync(
      join(town.root, 'town.toml'),
      `\n[notify.phone]\ntype = "telegram"\ntoken_env = "GT_TELEGRAM_TOKEN"\nchat_id = "${CHAT}"\napi_base = "${bot.url}"\n`,
    );
    // The daemon reads the token from its environment; nothing else gets it.
    expect(town.gt(['up'], { env: { GT_TELEGRAM_TOKEN: TOKEN } }).code).toBe(0);
    const bead = town.bead('Touch a file', []);
    await useScriptedClaude(town, [bash('touch APPROVED.txt'), say('Done.')]);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const worktree = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);

    // The ask reaches the phone with its buttons.
    const request = await waitFor(
      'the permission request',
      () => town.json<Waiting[]>(['permission', 'list']).find((r) => r.input.command === 'touch APPROVED.txt'),
      90_000,
    );
    const message = await waitFor('the ask on Telegram', () => bot.messages().find((m) => m.reply_markup !== undefined), 60_000);
    expect(message.chat_id).toBe(String(CHAT));
    expect(message.text).toContain(`${agent} asks to run Bash`);
    expect(message.text).toContain('touch APPROVED.txt');
    const buttons = message.reply_markup?.inline_keyboard[0] ?? [];
    expect(buttons.map((b) => [b.text, b.callback_data])).toEqual([
      ['Approve', `gt:approve:${request.id}`],
      ['Deny', `gt:deny:${request.id}`],
      ['Always allow', `gt:always:${request.id}`],
    ]);
    const messageId = message.message_id;

    // Someone in another chat (a forwarded message, a group the bot is in) presses Approve: refused, logged, nothing runs.
    bot.press({ chatId: 666, fromId: 9, username: 'mallory', data: `gt:approve:${request.id}`, messageId });
    await waitFor(
      'the refusal in the daemon log',
      () => /notification\.refused.*mallory/.test(readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8')) || undefined,
      60_000,
    );
    const refused = town.json<Array<{ payload: Record<string, unknown> }>>(['events', '--type', 'notification.refused']);
    expect(refused[0]?.payload).toMatchObject({ channel: 'phone', chat: '666', from: 'mallory', reason: "chat 666 is not this channel's chat" });
    expect(bot.calls('answerCallbackQuery')[0]).toMatchObject({ text: 'Not accepted: this chat does not answer for gt.' });
    expect(town.json<Waiting[]>(['permission', 'list']).map((r) => r.id)).toEqual([request.id]);
    expect(existsSync(join(worktree, 'APPROVED.txt'))).toBe(false);

    // The person presses Approve: the blocked command runs.
    bot.press({ chatId: CHAT, fromId: 1, username: 'alice', data: `gt:approve:${request.id}`, messageId });
    await waitFor('the approved command to run', () => existsSync(join(worktree, 'APPROVED.txt')) || undefined, 60_000);
    const decided = town.json<Waiting[]>(['permission', 'list', '--all']).find((r) => r.id === request.id);
    expect(decided).toMatchObject({ status: 'allowed', decided_by: 'telegram:alice', decided_via: 'person' });
    const events = town.json<Array<{ kind: string; actor: string; payload: Record<string, unknown> }>>(['events', '--bead', request.id]);
    expect(events.find((e) => e.kind === 'permission.decided')).toMatchObject({
      actor: 'telegram:alice',
      payload: { decision: 'allow', decided_via: 'person' },
    });
    expect(events.find((e) => e.kind === 'notification.answered')).toMatchObject({ payload: { verb: 'approve', applied: true } });
    await waitFor('the buttons to go', () => bot.calls('editMessageReplyMarkup').length > 0 || undefined, 30_000);
    expect(bot.calls('answerCallbackQuery')[1]).toMatchObject({ text: `${request.id} approved` });
    // The token went nowhere but the Bot API's URL.
    const seen = [
      town.gt(['events', '--limit', '1000', '--json']).stdout,
      town.gt(['notify', 'log', '--json']).stdout,
      readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8'),
    ].join('\n');
    expect(seen).not.toContain(TOKEN);
  }, 240_000);
});
