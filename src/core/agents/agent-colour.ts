/**
 * An agent's colour (issue 17 §1): the border of its pane in the swarm view, its
 * permission asks in the leader's mailbox, its lines in the feed. One colour per
 * identity, taken from a fixed palette the first time the identity starts a
 * session and kept on its agent bead (metadata `colour`), so a polecat is the
 * same colour in every view and after every restart.
 */

/** The palette, in the order colours are handed out (Claude Code's teammate colours first, then four more). */
export const AGENT_COLOURS = [
  { name: 'red', hex: '#e06c75' },
  { name: 'blue', hex: '#61afef' },
  { name: 'green', hex: '#98c379' },
  { name: 'yellow', hex: '#e5c07b' },
  { name: 'purple', hex: '#c678dd' },
  { name: 'orange', hex: '#d19a66' },
  { name: 'pink', hex: '#ff79c6' },
  { name: 'cyan', hex: '#56b6c2' },
  { name: 'lime', hex: '#b8e986' },
  { name: 'teal', hex: '#2bbbad' },
  { name: 'gold', hex: '#ffb000' },
  { name: 'lavender', hex: '#a29bfe' },
] as const;

export type AgentColourName = (typeof AGENT_COLOURS)[number]['name'];

export interface AgentColour {
  name: AgentColourName;
  /** `#rrggbb`: what tmux (`fg=#rrggbb`), iTerm2 and the dashboard take. */
  hex: string;
}

export function isAgentColourName(name: string): name is AgentColourName {
  return AGENT_COLOURS.some((c) => c.name === name);
}

/** The palette entry of a name; undefined for a name that is not on it. */
export function colourByName(name: string | undefined): AgentColour | undefined {
  return name === undefined ? undefined : AGENT_COLOURS.find((c) => c.name === name);
}

/** FNV-1a: a stable small hash, the same in every process and version. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The colour of an identity. `kept`: the colour already on its agent bead, which
 * always wins (a colour is assigned once). Otherwise the first palette colour no
 * other live agent holds (`taken`: their colours' names), so a swarm of up to
 * twelve agents shows twelve different borders; when every colour is taken, one
 * chosen by the identity's hash, so the choice is still stable.
 */
export function agentColour(identity: string, taken: Iterable<string> = [], kept?: string): AgentColour {
  const own = colourByName(kept);
  if (own) return own;
  const used = new Set(taken);
  const free = AGENT_COLOURS.find((c) => !used.has(c.name));
  if (free) return free;
  return AGENT_COLOURS[hash(identity) % AGENT_COLOURS.length] as AgentColour;
}
