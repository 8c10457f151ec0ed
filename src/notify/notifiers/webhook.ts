/**
 * `type: webhook`: the run's record as JSON, or a body rendered from a Liquid
 * template (https://liquidjs.com) over the same fields. LiquidJS is a maintained,
 * dependency-free template engine with a `json` filter (JSON-escaping a value);
 * it is loaded only when a template is rendered.
 */

import { errorText } from '../../errors.js';
import { messageRecord } from '../message.js';
import type { NotificationMessage, Notifier, NotifierInput } from '../types.js';

/** A file system that has nothing: a template cannot `include` or `render` a file. */
const NO_FILES = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file: string): Promise<string> => {
    throw new Error(`templates cannot read files (${file})`);
  },
  readFileSync: (file: string): string => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (_root: string, file: string) => file,
};

/**
 * The engine's options: no files (so no relative references either: without them liquidjs
 * warns on stderr at every engine it makes), unknown filters are errors.
 */
const ENGINE_OPTIONS = { fs: NO_FILES, root: [] as string[], relativeReference: false, strictFilters: true };

/** Renders a webhook body template; throws the template's syntax or render error. */
export async function renderBodyTemplate(template: string, vars: Record<string, unknown>): Promise<string> {
  const { Liquid } = await import('liquidjs');
  const engine = new Liquid({ ...ENGINE_OPTIONS, ownPropertyOnly: true });
  return engine.parseAndRender(template, vars);
}

/** Checks a template's syntax; returns the problem, or undefined. */
export async function checkBodyTemplate(template: string): Promise<string | undefined> {
  const { Liquid } = await import('liquidjs');
  try {
    new Liquid(ENGINE_OPTIONS).parse(template);
    return undefined;
  } catch (err) {
    return errorText(err).split('\n')[0];
  }
}

/** `type: webhook`. */
export const webhookNotifier: Notifier = {
  spec: 'the run record documented in docs/hooks.md',
  async request(m: NotificationMessage, input: NotifierInput) {
    const record = messageRecord(m);
    const body =
      input.config.body === undefined
        ? JSON.stringify(record)
        : await renderBodyTemplate(input.config.body, record);
    return { method: 'POST', url: input.url, headers: { 'Content-Type': 'application/json' }, body };
  },
};
