/**
 * Desktop notifications: `notify-send` on Linux (libnotify), `osascript` on
 * macOS, found on PATH when sending; anywhere else a clear error.
 */
import { DeliveryError, type OutgoingMessage } from '../../core/notify/types.js';
import { execCommand } from '../exec.js';
import { commandExists } from '../launch.js';

const URGENCY: Record<OutgoingMessage['severity'], string> = { info: 'low', low: 'low', medium: 'normal', high: 'normal', critical: 'critical' };

/** An AppleScript string literal. */
const appleString = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function desktopCommand(message: OutgoingMessage, platform: NodeJS.Platform, env: NodeJS.ProcessEnv): { file: string; args: string[] } {
  const title = `gt ${message.town}: ${message.title}`;
  const body = [message.body, message.bead].filter((x) => x !== undefined && x !== '').join('\n');
  if (platform === 'darwin' && commandExists('osascript', env)) {
    return { file: 'osascript', args: ['-e', `display notification ${appleString(body)} with title ${appleString(title)}`] };
  }
  if (platform !== 'darwin' && platform !== 'win32' && commandExists('notify-send', env)) {
    return { file: 'notify-send', args: ['--app-name=gt', `--urgency=${URGENCY[message.severity]}`, '--', title, body] };
  }
  const need =
    platform === 'darwin' ? 'osascript' : platform === 'win32' ? 'notify-send or osascript, which Windows does not have' : 'notify-send (libnotify-bin)';
  throw new DeliveryError(`desktop notifications need ${need}; none was found on PATH on ${platform}`);
}

export async function sendDesktop(message: OutgoingMessage, env: NodeJS.ProcessEnv): Promise<void> {
  const { file, args } = desktopCommand(message, process.platform, env);
  const result = await execCommand(file, args, { env, timeoutMs: 15_000 });
  if (result.code !== 0 || result.timedOut)
    throw new DeliveryError(
      `${file} ${result.timedOut ? 'timed out' : `exited with ${result.code}`}${result.stderr.trim() ? `: ${result.stderr.trim().slice(0, 200)}` : ''}`,
    );
}
