import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../../src/metrics/exposition.js';
import { renderDaemonMetrics, watchEventLoop } from '../../src/schedule/daemon-metrics.js';

describe("the daemon's own metrics", () => {
  it('renders the daemon, per-tier and process families from the metric table', () => {
    const text = renderDaemonMetrics({
      startedAt: 1_718_452_000_000,
      isLastReloadOk: false,
      tiers: [
        { profile: 'nfs', tier: 'daily', nextRun: 1_718_506_800_000, isRunning: true, skippedRuns: 2 },
        { profile: 'nfs', tier: 'once', nextRun: null, isRunning: false, skippedRuns: 0 },
      ],
      process: {
        residentBytes: 80 * 2 ** 20,
        heapUsedBytes: 12_500_000,
        loopDelayP99Seconds: 0.021,
        loopDelayMaxSeconds: 0.5,
      },
    });
    assert.equal(
      text,
      `# HELP resticprom_daemon_up Always 1 while the resticprom daemon serves its endpoint
# TYPE resticprom_daemon_up gauge
resticprom_daemon_up 1
# HELP resticprom_daemon_start_time_seconds When the daemon started, Unix seconds
# TYPE resticprom_daemon_start_time_seconds gauge
resticprom_daemon_start_time_seconds 1718452000
# HELP resticprom_daemon_config_last_reload_successful Whether the last configuration reload succeeded (1) or kept the previous configuration (0)
# TYPE resticprom_daemon_config_last_reload_successful gauge
resticprom_daemon_config_last_reload_successful 0
# HELP resticprom_next_run_timestamp_seconds When the daemon will next run the tier's backup, Unix seconds
# TYPE resticprom_next_run_timestamp_seconds gauge
resticprom_next_run_timestamp_seconds{profile="nfs",tier="daily"} 1718506800
# HELP resticprom_daemon_run_in_progress 1 while the daemon runs the tier, else 0
# TYPE resticprom_daemon_run_in_progress gauge
resticprom_daemon_run_in_progress{profile="nfs",tier="daily"} 1
resticprom_daemon_run_in_progress{profile="nfs",tier="once"} 0
# HELP resticprom_daemon_skipped_runs_total Scheduled runs skipped because the previous run of the tier had not finished
# TYPE resticprom_daemon_skipped_runs_total counter
resticprom_daemon_skipped_runs_total{profile="nfs",tier="daily"} 2
resticprom_daemon_skipped_runs_total{profile="nfs",tier="once"} 0
# HELP process_resident_memory_bytes The daemon process's resident memory (RSS), in bytes
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 83886080
# HELP resticprom_daemon_heap_used_bytes V8's heap in use by the daemon, in bytes
# TYPE resticprom_daemon_heap_used_bytes gauge
resticprom_daemon_heap_used_bytes 12500000
# HELP resticprom_daemon_event_loop_delay_p99_seconds The 99th percentile of the daemon's event loop delay over the last minute, in seconds
# TYPE resticprom_daemon_event_loop_delay_p99_seconds gauge
resticprom_daemon_event_loop_delay_p99_seconds 0.021
# HELP resticprom_daemon_event_loop_delay_max_seconds The longest delay of the daemon's event loop over the last minute, in seconds
# TYPE resticprom_daemon_event_loop_delay_max_seconds gauge
resticprom_daemon_event_loop_delay_max_seconds 0.5
`,
    );
    // And it is valid exposition text.
    assert.equal(parseExposition(text).length, 10);
  });

  it('measures a blocked event loop', async () => {
    const watch = watchEventLoop(60_000);
    try {
      await new Promise((r) => setTimeout(r, 50));
      const until = Date.now() + 400;
      while (Date.now() < until) {
        // Block the event loop, as a synchronous parse of a huge file would.
      }
      await new Promise((r) => setTimeout(r, 50));
      const { p99Seconds, maxSeconds } = watch.read();
      assert.ok(maxSeconds >= 0.35, `max ${maxSeconds}`);
      assert.ok(p99Seconds > 0 && p99Seconds <= maxSeconds, `p99 ${p99Seconds}`);
    } finally {
      watch.stop();
    }
  });
});
