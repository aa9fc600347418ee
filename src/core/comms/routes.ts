/**
 * The vocabulary of escalation routes, shared by town.toml's schema and the
 * escalations themselves. Kept free of imports: the hot bundle (agent hooks)
 * raises escalations without loading the config schemas.
 */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Where an escalation goes besides the person's inbox (which always gets it):
 * `mail:<address>` (`mail:dispatcher` is whoever slung the subject bead) or
 * `notify:<channel>` (a channel of `[notify.<name>]`; `notify:default` = the default ones, none when there is none).
 */
export const ROUTE_PATTERN =
  /^(mail:(mayor|deacon|human|dispatcher|[a-z][a-z0-9_-]*\/(witness|refinery|(crew|polecats)\/[a-z][a-z0-9_-]*))|notify:[a-z0-9][a-z0-9_-]*)$/;

export const ROUTE_HINT = 'a route: "mail:<address>" (mail:mayor, mail:human, mail:dispatcher, mail:<rig>/crew/<name>…) or "notify:<channel>"';

/** Routes per severity when town.toml names none (the human inbox gets every escalation in any case). */
export const DEFAULT_ROUTES: Record<Severity, string[]> = {
  low: [],
  medium: ['mail:dispatcher'],
  high: ['mail:mayor', 'mail:dispatcher', 'notify:default'],
  critical: ['mail:mayor', 'mail:dispatcher', 'notify:default'],
};
