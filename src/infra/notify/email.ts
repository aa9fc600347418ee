/** Email through SMTP with nodemailer: `smtp_url`, or host/port/secure/user/password. Loaded only when an email channel sends. */
import type { NotifyChannelConfig, OutgoingMessage } from '../../core/notify/types.js';
import type { ChannelSecrets } from './secrets.js';

type EmailConfig = Extract<NotifyChannelConfig, { type: 'email' }>;

export function emailSubject(message: OutgoingMessage): string {
  const severity = message.severity === 'info' ? '' : `${message.severity.toUpperCase()}: `;
  return `[gt ${message.town}] ${severity}${message.title}`.replace(/[\r\n]+/g, ' ');
}

export function emailText(message: OutgoingMessage): string {
  const subject = message.bead !== undefined ? `\n\nAbout: ${message.bead}` : '';
  const answer =
    message.bead !== undefined && message.actions.some((a) => a.verb === 'approve')
      ? `\nAnswer with: gt permission approve ${message.bead}   (or: gt permission deny ${message.bead}, or approve --always)`
      : '';
  return `${message.title}\n\n${message.body}${subject}${answer}\n\n-- \ngt, town ${message.town} (severity ${message.severity})\n`;
}

export async function sendEmail(config: EmailConfig, secrets: ChannelSecrets, message: OutgoingMessage): Promise<string | undefined> {
  try {
    const nodemailer = await import('nodemailer');
    const url = secrets.get(config, 'smtp_url');
    const password = secrets.get(config, 'password');
    const transport = nodemailer.createTransport(
      url ?? {
        host: config.host,
        ...(config.port !== undefined ? { port: config.port } : {}),
        ...(config.secure !== undefined ? { secure: config.secure } : {}),
        ...(config.user !== undefined ? { auth: { user: config.user, pass: password ?? '' } } : {}),
        connectionTimeout: 20_000,
        greetingTimeout: 20_000,
        socketTimeout: 30_000,
      },
    );
    try {
      const info = await transport.sendMail({ from: config.from, to: config.to, subject: emailSubject(message), text: emailText(message) });
      return info.messageId;
    } finally {
      transport.close();
    }
  } catch (error) {
    throw secrets.error(error, 'email');
  }
}
