/**
 * A tagged template for HTML: every interpolated value is escaped unless it is
 * itself the result of `html` (or `raw`), arrays are joined, and null,
 * undefined and false render nothing. What reaches the page is text the
 * server chose to show, never markup an agent wrote.
 */
export class HtmlEscapedString {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

type Part = HtmlEscapedString | string | number | boolean | null | undefined | Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof HtmlEscapedString) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): HtmlEscapedString {
  let out = strings[0] ?? '';
  values.forEach((value, i) => (out += render(value) + (strings[i + 1] ?? '')));
  return new HtmlEscapedString(out);
}

/** Markup the server itself produced (never text from the ledger). */
export function raw(markup: string): HtmlEscapedString {
  return new HtmlEscapedString(markup);
}
