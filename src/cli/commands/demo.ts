/**
 * `resticprom demo`: the seed's system end to end on this machine, no config needed.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';

/** Declares the `demo` command. */
export function register(program: Command): void {
  program
    .command('demo')
    .description(
      "back up sample data, push to a Pushgateway, scrape it with Prometheus, answer the seed's queries",
    )
    .option('--keep', 'leave the Pushgateway, Prometheus and files running and print their URLs')
    .action(
      runAction(async (flags: { keep?: boolean }) => {
        const { runDemo, formatAnswers } = await import('../../demo/run-demo.js');
        const log = (l: string) => process.stderr.write(`demo: ${l}\n`);
        const res = await runDemo({ keep: Boolean(flags.keep), log });
        process.stdout.write(`\nThe seed's queries, answered by Prometheus:\n${formatAnswers(res.answers)}`);
        if (flags.keep) {
          process.stdout.write(
            `\nStill running:\n  pushgateway  ${res.urls.pushgateway}\n  prometheus   ${res.urls.prometheus}\n  files        ${res.dir} (config: ${res.dir}/resticprom.yaml)\n` +
              `When done: kill ${res.pids.join(' ')} && rm -rf ${res.dir}\n`,
          );
        } else {
          process.stdout.write('\nStopped the Pushgateway and Prometheus and removed the demo files.\n');
        }
        return 0;
      }),
    );
}
