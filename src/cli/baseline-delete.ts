import type { Subcommand } from './command.ts';
import { UsageError } from './errors.ts';
import { request } from './gateway-client.ts';
import type { UploadAnswer } from './gateway-client.ts';
import { describeInForce } from './format.ts';

/** `baseline delete ID`: removes one reference profile. */
export const baselineDelete: Subcommand = {
  options: [],
  positionals: ['ID'],
  async run(ctx, _options, positionals) {
    const [id] = positionals;
    if (id.trim() === '') throw new UsageError('ID must not be empty');
    const { deleted, inForce } = await request<{ deleted: string; inForce?: UploadAnswer['inForce'] }>(ctx, `/v1/baselines/${encodeURIComponent(id)}`, { method: 'DELETE' });
    ctx.out(`deleted baseline ${deleted ?? id}`);
    if (inForce !== undefined) ctx.out(inForce === null ? 'in force: no reference left for its model' : describeInForce(inForce, inForce.model));
  },
};
