import { checkModel, nonEmpty } from './args.ts';
import type { Subcommand } from './command.ts';
import { formatTable } from './format.ts';
import { request } from './gateway-client.ts';
import type { ProfileDescription } from './gateway-client.ts';

/** `baseline list`: the stored reference profiles, as a table. */
export const baselineList: Subcommand = {
  options: ['model'],
  positionals: [],
  async run(ctx, options) {
    const model = checkModel(nonEmpty(options.model, '--model'));
    const query = model === undefined ? '' : `?model=${encodeURIComponent(model)}`;
    const { baselines } = await request<{ baselines: ProfileDescription[] }>(ctx, `/v1/baselines${query}`, { method: 'GET' });
    if (baselines.length === 0) {
      ctx.out(model === undefined ? 'no baselines' : `no baselines for model '${model}'`);
      return;
    }
    // Grouped by model, newest first: the newest of a model (and version) is the one drift uses.
    const sorted = [...baselines].sort((a, b) => a.model.localeCompare(b.model) || b.createdAt - a.createdAt);
    ctx.out(
      formatTable(
        ['ID', 'MODEL', 'VERSION', 'SOURCE', 'ROWS', 'FEATURES', 'CREATED'],
        sorted.map((p) => [
          p.id,
          p.model,
          p.version ?? '*',
          p.source,
          String(p.count),
          String(Object.keys(p.features ?? {}).length),
          new Date(p.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        ]),
      ),
    );
  },
};
