/**
 * The notification port (core/notify/types.ts NotifyPort) over the real
 * channels. Secrets are read from the environment per send, so a rotated
 * token is used at once, and never leave this folder except as `[redacted]`.
 */
import type { ChannelAnswer, NotifyChannelConfig, NotifyPort, OutgoingMessage } from '../../core/notify/types.js';
import { DeliveryError } from '../../core/notify/types.js';
import { sendDesktop } from './desktop.js';
import { sendEmail } from './email.js';
import { ChannelSecrets } from './secrets.js';
import { TelegramBot } from './telegram.js';
import { sendWebhook } from './webhook.js';

export function channelPort(env: NodeJS.ProcessEnv): NotifyPort {
  const telegram = (name: string, channel: NotifyChannelConfig): TelegramBot => {
    if (channel.type !== 'telegram') throw new DeliveryError(`channel ${name} is a ${channel.type} channel, which has no buttons`);
    return new TelegramBot(channel, new ChannelSecrets(name, env));
  };
  return {
    async send(name: string, channel: NotifyChannelConfig, message: OutgoingMessage) {
      const secrets = new ChannelSecrets(name, env);
      switch (channel.type) {
        case 'telegram':
          return { receipt: await new TelegramBot(channel, secrets).send(message) };
        case 'email': {
          const id = await sendEmail(channel, secrets, message);
          return id === undefined ? {} : { receipt: id };
        }
        case 'desktop':
          await sendDesktop(message, env);
          return {};
        case 'webhook':
          await sendWebhook(channel, secrets, message);
          return {};
      }
    },
    answers: (name, channel, offset, waitSec, signal) => telegram(name, channel).updates(offset, waitSec, signal),
    acknowledge: (name, channel, answer: ChannelAnswer, text, done) => telegram(name, channel).acknowledge(answer, text, done),
  };
}
