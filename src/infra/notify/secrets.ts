/**
 * A channel's secrets: given in town.toml by value (`token`) or, better, by the
 * name of the variable that holds them (`token_env`). Every error a channel
 * raises passes `scrub`, which takes out the channel's own secret values (a bot
 * token is part of Telegram's URL; a Slack webhook URL is itself the secret)
 * and any known token shape, so none reaches a log, an event or a terminal.
 */
import { redactSecrets } from '../../shared/secrets.js';
import { DeliveryError } from '../../core/notify/types.js';

export class ChannelSecrets {
  private readonly values: string[] = [];

  constructor(
    private readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The secret `key` of a channel config (`key` itself or the variable `key_env` names); undefined when neither is set. */
  get(config: Record<string, unknown>, key: string): string | undefined {
    const direct = config[key];
    const variable = config[`${key}_env`];
    let value: string | undefined;
    if (typeof direct === 'string') value = direct;
    else if (typeof variable === 'string') {
      value = this.env[variable];
      if (value === undefined || value === '')
        throw new DeliveryError(`notify.${this.name}.${key}_env names ${variable}, which is not set in the daemon's environment`);
    }
    if (value !== undefined) this.remember(value);
    return value;
  }

  /** The value of a variable holding a secret (headers_env). */
  fromEnv(variable: string, key: string): string {
    const value = this.env[variable];
    if (value === undefined || value === '')
      throw new DeliveryError(`notify.${this.name}.${key} names ${variable}, which is not set in the daemon's environment`);
    this.remember(value);
    return value;
  }

  private remember(value: string): void {
    this.values.push(value);
    // A URL's user, password, path or query values may be quoted by an error on their own (encoded or not):
    // a webhook's `?token=…` is as secret as a Slack hook's path.
    try {
      const url = new URL(value);
      const query = [...url.searchParams.values()];
      for (const part of [url.username, url.password, decodeURIComponent(url.password), url.pathname.length > 8 ? url.pathname : '', url.search, ...query])
        if (part.length >= 4) this.values.push(part, encodeURIComponent(part));
    } catch {
      // not a URL
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const value of this.values.sort((a, b) => b.length - a.length)) if (value.length >= 4) out = out.split(value).join('[redacted]');
    return redactSecrets(out);
  }

  /** A DeliveryError with this channel's secrets taken out of the message. */
  error(caught: unknown, context: string): DeliveryError {
    const retryAfterMs = caught instanceof DeliveryError ? caught.retryAfterMs : undefined;
    let message = caught instanceof Error ? caught.message : String(caught);
    // fetch's "fetch failed" says nothing; its cause (ECONNREFUSED, a DNS failure) says what happened.
    const cause = caught instanceof Error ? (caught.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    if (cause && typeof cause === 'object')
      message += `: ${typeof cause.code === 'string' ? cause.code : typeof cause.message === 'string' ? cause.message : ''}`;
    return new DeliveryError(this.scrub(`${context}: ${message}`), retryAfterMs === undefined ? {} : { retryAfterMs });
  }
}
