/**
 * The line `resticprom status` prints for a destination whose deliveries are failing:
 * counted right, times in the config's zone, and escaped (an error that came back from a
 * server may hold a line break or a terminal escape sequence).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFailingDelivery } from '../../src/state/status.js';

const AT = Date.UTC(2024, 4, 10, 11, 0);

describe('the deliveries-failing line', () => {
  it('says how many wait for where since when, and the last error, escaped', () => {
    const f = {
      destination: 'gateway https://gw.example:9091',
      pending: 1,
      since: AT,
      lastAttemptAt: AT + 55 * 60_000,
      lastError: 'gateway https://gw.example:9091 answered 502: <html>\n\x1b[31mbad gateway',
    };
    assert.equal(
      formatFailingDelivery(f, 'Europe/Berlin'),
      'deliveries failing: 1 entry waits for gateway https://gw.example:9091 since 2024-05-10 13:00; last attempt 2024-05-10 13:55: gateway https://gw.example:9091 answered 502: <html>\\n\\x1b[31mbad gateway',
    );
    assert.match(
      formatFailingDelivery({ ...f, pending: 3 }, 'UTC'),
      /^deliveries failing: 3 entries wait for /,
    );
  });
});
