import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stripTerminalCodes } from '../../src/restic/spawn.js';

describe('stripTerminalCodes: what a terminal would show of a restic stderr line', () => {
  it("drops restic 0.14's ESC[2K before a message", () => {
    assert.equal(
      stripTerminalCodes('\x1b[2Ksignal interrupt received, cleaning up'),
      'signal interrupt received, cleaning up',
    );
  });
  it("keeps the text after restic 0.19's carriage return, without trailing blanks", () => {
    assert.equal(
      stripTerminalCodes('\rsignal interrupt received, cleaning up '),
      'signal interrupt received, cleaning up',
    );
    assert.equal(
      stripTerminalCodes('[0:01] 10 files\rFatal: unable to save snapshot'),
      'Fatal: unable to save snapshot',
    );
  });
  it('a CRLF line keeps its text; a plain line is unchanged', () => {
    assert.equal(stripTerminalCodes('Fatal: wrong password\r'), 'Fatal: wrong password');
    assert.equal(stripTerminalCodes('scan finished'), 'scan finished');
  });
});
