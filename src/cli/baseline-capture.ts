import { checkModel, checkVersion, nonEmpty, requireOption } from './args.ts';
import type { Subcommand } from './command.ts';
import { describeCreated } from './format.ts';
import { request } from './gateway-client.ts';
import type { ProfileDescription } from './gateway-client.ts';

/** `baseline capture`: the gateway captures a reference profile from one of its live windows. */
export const baselineCapture: Subcommand = {
  options: ['model', 'window', 'version'],
  positionals: [],
  async run(ctx, options) {
    const model = checkModel(requireOption(options, 'model', 'capture')) as string;
    const version = checkVersion(nonEmpty(options.version, '--version'));
    const window = nonEmpty(options.window, '--window');
    const profile = await request<ProfileDescription>(ctx, `/v1/models/${encodeURIComponent(model)}/baseline`, {
      method: 'POST',
      body: JSON.stringify({ window, version }),
    });
    ctx.out(describeCreated(profile, 'captured'));
  },
};
