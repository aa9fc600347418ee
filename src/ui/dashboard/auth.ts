/**
 * Who may use the dashboard: whoever holds its token. A browser presents it
 * once (`/?token=…`) and gets a session cookie (HttpOnly, SameSite=Strict) in
 * exchange; a script sends it as `Authorization: Bearer …`. Every
 * state-changing request also carries the session's CSRF token (a header, or a
 * form field), so a page elsewhere cannot act with the person's cookie. The
 * Host header must name this server, so a rebound DNS name cannot reach it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

export const SESSION_COOKIE = 'gt_dashboard';

/** What the guard hands the routes: the request's session. */
export interface DashboardEnv {
  Variables: { session: string };
}
const BEARER = 'bearer';

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export class DashboardAuth {
  readonly token: string;
  private readonly secret = randomBytes(32);
  private readonly sessions = new Set<string>();

  constructor(token?: string) {
    this.token = token ?? randomBytes(24).toString('base64url');
  }

  /** The CSRF token of a session: derived, so nothing more is stored per session. */
  csrfFor(session: string): string {
    return createHmac('sha256', this.secret).update(`csrf:${session}`).digest('base64url');
  }

  /** The session a request belongs to (cookie or bearer token), if any. */
  sessionOf(c: Context<DashboardEnv>): string | undefined {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie && this.sessions.has(cookie)) return cookie;
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (bearer && same(bearer, this.token)) return BEARER;
    return undefined;
  }

  /** Trades the token for a session cookie. */
  signIn(c: Context<DashboardEnv>): void {
    const session = randomBytes(24).toString('base64url');
    this.sessions.add(session);
    const secure = new URL(c.req.url).protocol === 'https:';
    setCookie(c, SESSION_COOKIE, session, { httpOnly: true, sameSite: 'Strict', path: '/', secure });
  }

  /**
   * The guard in front of every route: Host check, then `?token=` sign-in,
   * then a session, then CSRF on anything that is not a read.
   */
  middleware(allowedHosts: () => Set<string> | undefined): MiddlewareHandler<DashboardEnv> {
    return async (c, next) => {
      const hosts = allowedHosts();
      const host = (c.req.header('host') ?? '').toLowerCase();
      if (hosts && !hosts.has(host)) return c.text('Unknown host: open the dashboard by the address gt dashboard printed.\n', 403);
      const offered = c.req.query('token');
      if (offered !== undefined && c.req.method === 'GET') {
        if (!same(offered, this.token)) return c.text('Wrong dashboard token.\n', 401);
        this.signIn(c);
        // The token leaves the address bar (and the history) at once.
        const url = new URL(c.req.url);
        url.searchParams.delete('token');
        return c.redirect(`${url.pathname}${url.search}`, 303);
      }
      const session = this.sessionOf(c);
      if (!session) {
        return c.html(
          '<!doctype html><meta charset="utf-8"><title>gt dashboard</title><p>Open the address <code>gt dashboard</code> printed (it carries the token).</p>\n',
          401,
        );
      }
      c.set('session', session);
      if (!['GET', 'HEAD', 'OPTIONS'].includes(c.req.method)) {
        const origin = c.req.header('origin');
        // `Origin: null` (sandboxed frames, file: pages) or any other origin than this host: refused, never a 500.
        if (origin && originHost(origin) !== host) return c.text('Cross-origin request refused.\n', 403);
        let presented = c.req.header('x-csrf-token');
        if (!presented && (c.req.header('content-type') ?? '').includes('form')) {
          const form = await c.req.parseBody();
          presented = typeof form._csrf === 'string' ? form._csrf : undefined;
        }
        if (!presented || !same(presented, this.csrfFor(session))) return c.text('Missing or wrong CSRF token (X-CSRF-Token; GET /api/session has it).\n', 403);
      }
      await next();
      c.header('Cache-Control', 'no-store');
      return undefined;
    };
  }
}

/** The session of a request that passed the guard. */
export function sessionOf(c: Context<DashboardEnv>): string {
  return c.get('session' as never);
}

/** The host of an Origin header, lowercased; undefined for `null` or anything that is no URL. */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
