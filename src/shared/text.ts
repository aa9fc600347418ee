/**
 * Text from beads, mail and agents shown to a person: control characters are
 * rendered visibly, never sent to the terminal (issue 12, finding 9). A title
 * holding ESC ] 52 could write the clipboard, a CR could overwrite what is
 * printed before it, bidi overrides could reorder it. JSON output keeps the
 * exact data; only human output goes through here.
 */

/** C0 controls but newline and tab, DEL, C1 controls, and the bidi controls. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function shown(char: string): string {
  const code = char.codePointAt(0) as number;
  if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
  if (code === 0x7f) return '^?';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/** Control characters in caret notation (ESC → ^[, CR → ^M) or as <U+XXXX>; newlines and tabs stay. */
export function visible(text: string): string {
  return text.replace(CONTROL, shown);
}

/** The same for one line of a table or a heading: a newline shows as ^J too. */
export function visibleLine(text: string): string {
  return visible(text).replace(/\n/g, '^J');
}

/** Every string in a value (issue, row, list) made visible; the value's shape stays. */
export function visibleData<T>(value: T): T {
  if (typeof value === 'string') return visible(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => visibleData(item)) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visibleData(v)])) as T;
  return value;
}
