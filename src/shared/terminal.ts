/** Strings a terminal consumes whole: OSC (titles, hyperlinks; ended by BEL or ST), and DCS/SOS/PM/APC (ended by ST). */
const TERMINAL_STRINGS = /\u001b(?:\][\s\S]*?(?:\u0007|\u001b\\)|[PX^_][\s\S]*?\u001b\\)/g;
/** CSI sequences (colour, cursor moves, erasing), then the two-character escapes (charset, keypad, save cursor). */
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[ -/]*[0-~]/g;
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
/** Erase in line at the start of what follows a carriage return: the line is drawn afresh. */
const ERASE_LINE = /^\u001b\[[02]?K/;

/**
 * What a terminal's byte stream (a tmux pane's log) reads as: escape sequences
 * dropped, a line redrawn after `\r` shown as it was left, other control
 * characters removed, trailing blanks trimmed. Stripping, not a terminal
 * emulator: text a full-screen program places with cursor moves comes out in
 * the order it was written.
 */
export function plainText(raw: string): string {
  return raw
    .replace(TERMINAL_STRINGS, '')
    .split('\n')
    .map((line) => {
      let shown = '';
      for (const part of line.split('\r')) {
        if (ERASE_LINE.test(part)) shown = '';
        const visible = part.replace(ESCAPES, '').replace(CONTROLS, '');
        shown = visible + shown.slice(visible.length);
      }
      return shown.trimEnd();
    })
    .join('\n');
}
