import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';

describe('the package as a JavaScript user imports it', () => {
  it('driftwatch and driftwatch/client load with plain node (no TypeScript loader) after the build', () => {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
    const script = [
      "import { DriftPublisher, partitionOf, fnv1a32 } from 'driftwatch/client';",
      "import { ks2Samp, Adwin, LogHistogram } from 'driftwatch';",
      'const sketch = new LogHistogram(); for (let i = 1; i <= 100; i++) sketch.add(i);',
      'console.log(JSON.stringify({ publisher: typeof DriftPublisher.connect, partition: partitionOf("foobar", 16), hash: fnv1a32("a"), ks: ks2Samp([1, 2, 3], [4, 5, 6]).statistic, adwin: new Adwin().width, median: Math.round(sketch.quantile(0.5)) }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(JSON.parse(out)).toEqual({ publisher: 'function', partition: 0xbf9cf968 % 16, hash: 0xe40c292c, ks: 1, adwin: 0, median: 50 });
  }, 120_000);
});
