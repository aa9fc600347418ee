import { describe, expect, it } from 'vitest';
import { plainText } from '../../src/shared/terminal.js';

describe('plainText (a terminal log as it reads)', () => {
  it('drops colour, cursor and title sequences, and control characters', () => {
    expect(plainText('\u001b[1;31mred\u001b[0m \u001b]0;title\u0007\u001b]8;;https://x\u001b\\link\u001b]8;;\u001b\\\u001b(B\u0007\r\n')).toBe('red link\n');
  });

  it('shows a line redrawn after a carriage return as it was left', () => {
    expect(plainText('working 10%\rworking 100%\r\n')).toBe('working 100%\n');
    expect(plainText('a long first draw\rshort')).toBe('shortg first draw');
    expect(plainText('a long first draw\r\u001b[2Kshort')).toBe('short');
  });
});
