/**
 * Charts as SVG rendered on the server: no chart library, no script, readable
 * without JavaScript and sharp on any screen. Each chart scales to its
 * container's width (viewBox) and carries a <title> per bar for the exact value.
 */
import { html, type HtmlEscapedString } from './html.js';

export interface Bar {
  label: string;
  value: number;
  /** What the bar's tooltip says (defaults to label: value). */
  title?: string;
}

const W = 320;

/** Vertical bars over time (merges per hour). */
export function columnChart(bars: Bar[], options: { height?: number; unit?: string; empty?: string } = {}): HtmlEscapedString {
  if (bars.length === 0 || bars.every((b) => b.value === 0)) return html`<p class="muted">${options.empty ?? 'Nothing yet.'}</p>`;
  const height = options.height ?? 90;
  const max = Math.max(...bars.map((b) => b.value));
  const step = W / bars.length;
  const bar = Math.max(1, step * 0.8);
  const plot = height - 14;
  return html`<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" preserveAspectRatio="none">
    ${bars.map((b, i) => {
      const h = max ? (b.value / max) * (plot - 2) : 0;
      return html`<rect x="${(i * step + (step - bar) / 2).toFixed(1)}" y="${(plot - h).toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}"
        ><title>${b.title ?? `${b.label}: ${b.value}${options.unit ?? ''}`}</title></rect
      >`;
    })}
    <line x1="0" y1="${plot}" x2="${W}" y2="${plot}" class="axis" />
    <text x="0" y="${height - 2}" class="tick">${bars[0]?.label ?? ''}</text>
    <text x="${W}" y="${height - 2}" class="tick" text-anchor="end">${bars.at(-1)?.label ?? ''}</text>
    <text x="${W}" y="10" class="tick" text-anchor="end">max ${max}${options.unit ?? ''}</text>
  </svg>`;
}

/** Horizontal bars with their values (cost per merged bead by rig). */
export function barChart(bars: Bar[], format: (n: number) => string, empty = 'Nothing yet.'): HtmlEscapedString {
  if (bars.length === 0) return html`<p class="muted">${empty}</p>`;
  const max = Math.max(...bars.map((b) => b.value), 0);
  const row = 18;
  const labelW = 96;
  const valueW = 64;
  const plot = W - labelW - valueW;
  return html`<svg class="chart" viewBox="0 0 ${W} ${bars.length * row + 2}" role="img">
    ${bars.map((b, i) => {
      const w = max ? (b.value / max) * plot : 0;
      return html`<g transform="translate(0 ${i * row})">
        <text x="0" y="13" class="label">${b.label.length > 14 ? `${b.label.slice(0, 13)}…` : b.label}</text>
        <rect x="${labelW}" y="3" width="${Math.max(w, b.value > 0 ? 1 : 0).toFixed(1)}" height="12"
          ><title>${b.title ?? `${b.label}: ${format(b.value)}`}</title></rect
        >
        <text x="${W}" y="13" class="value" text-anchor="end">${format(b.value)}</text>
      </g>`;
    })}
  </svg>`;
}

/** A thin progress bar (a convoy's closed beads of its total). */
export function progressBar(done: number, total: number): HtmlEscapedString {
  const share = total ? done / total : 0;
  return html`<svg class="progress" viewBox="0 0 100 6" preserveAspectRatio="none" role="img">
    <rect x="0" y="0" width="100" height="6" class="track" />
    <rect x="0" y="0" width="${(share * 100).toFixed(1)}" height="6" class="fill" />
    <title>${done} of ${total}</title>
  </svg>`;
}
