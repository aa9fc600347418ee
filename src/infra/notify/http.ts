/** JSON over HTTP for the channels (Node's fetch), with a time limit. */
import { DeliveryError } from '../../core/notify/types.js';

export interface HttpReply {
  status: number;
  headers: Headers;
  text: string;
}

export async function postJson(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HttpReply> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Seconds or an HTTP date in Retry-After, as milliseconds. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A non-2xx reply as a DeliveryError (429 and 503 say when to try again). */
export function replyError(reply: HttpReply, what: string): DeliveryError {
  const after = reply.status === 429 || reply.status === 503 ? retryAfterMs(reply.headers.get('retry-after')) : undefined;
  const detail = reply.text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return new DeliveryError(`${what} answered HTTP ${reply.status}${detail ? `: ${detail}` : ''}`, after === undefined ? {} : { retryAfterMs: after });
}
