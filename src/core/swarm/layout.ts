/**
 * The swarm view's layout (issue 17 §1), as a tmux layout string: the leader's
 * pane on the left at 30%, teammates tiled on the right in a grid of as few
 * columns as keep every pane at least MIN_ROWS lines tall (an agent's TUI wants
 * width more than height). Pure: a table test covers it, and `select-layout`
 * applies it. tmux gives the string's cells to the window's panes in the
 * window's own pane order, so the order of the panes is the order of the view.
 */

/** A pane shorter than this is split into another column instead. */
export const MIN_ROWS = 8;
/** The leader's share of the width (Claude Code's DEFAULT_TEAM_PANE_WIDTH). */
export const LEADER_WIDTH = 0.3;

/** tmux's layout_checksum (layout-custom.c): a 16-bit rotate-and-add over the layout text. */
export function layoutChecksum(layout: string): string {
  let csum = 0;
  for (let i = 0; i < layout.length; i++) {
    csum = ((csum >> 1) + ((csum & 1) << 15)) & 0xffff;
    csum = (csum + layout.charCodeAt(i)) & 0xffff;
  }
  return csum.toString(16).padStart(4, '0');
}

/** `total` cells split into `parts` sizes with a one-cell border between each two. */
function split(total: number, parts: number): number[] {
  const usable = total - (parts - 1);
  const base = Math.floor(usable / parts);
  const extra = usable - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Columns of the grid for `n` panes in an area `height` lines tall. */
export function gridColumns(n: number, height: number): number {
  for (let cols = 1; cols < n; cols++) {
    const rows = Math.ceil(n / cols);
    if ((height - (rows - 1)) / rows >= MIN_ROWS) return cols;
  }
  return Math.max(1, n);
}

/** The grid of `ids` in the area at (x, y) of w × h. */
function grid(ids: number[], w: number, h: number, x: number, y: number): string {
  if (ids.length === 1) return `${w}x${h},${x},${y},${ids[0]}`;
  const cols = gridColumns(ids.length, h);
  const rows = Math.ceil(ids.length / cols);
  const heights = split(h, rows);
  let top = y;
  const rowNodes = heights.map((rh, r) => {
    const members = ids.slice(r * cols, (r + 1) * cols);
    const node = members.length === 1 ? `${w}x${rh},${x},${top},${members[0]}` : rowOf(members, w, rh, x, top);
    top += rh + 1;
    return node;
  });
  return rows === 1 ? (rowNodes[0] as string) : `${w}x${h},${x},${y}[${rowNodes.join(',')}]`;
}

function rowOf(ids: number[], w: number, h: number, x: number, y: number): string {
  let left = x;
  const cells = split(w, ids.length).map((cw, i) => {
    const cell = `${cw}x${h},${left},${y},${ids[i]}`;
    left += cw + 1;
    return cell;
  });
  return `${w}x${h},${x},${y}{${cells.join(',')}}`;
}

/**
 * The layout of a window `width` × `height` whose panes are `ids` (tmux pane
 * numbers, `%7` → 7) in window order; with `leader`, the first is the leader.
 */
export function swarmLayout(width: number, height: number, ids: number[], leader: boolean): string {
  if (ids.length === 0) throw new Error('a layout needs a pane');
  let body: string;
  if (ids.length === 1) body = `${width}x${height},0,0,${ids[0]}`;
  else if (!leader) body = grid(ids, width, height, 0, 0);
  else {
    const lw = Math.max(1, Math.round(width * LEADER_WIDTH));
    const rw = width - lw - 1;
    body = `${width}x${height},0,0{${lw}x${height},0,0,${ids[0]},${grid(ids.slice(1), rw, height, lw + 1, 0)}}`;
  }
  return `${layoutChecksum(body)},${body}`;
}
