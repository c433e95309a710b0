import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { trainingCsv } from '../../examples/make-training-file.ts';
import { CsvReader, parseTrainingFile } from '../../src/reference/training-file.ts';
import { summarizeColumns } from '../../src/reference/column-table.ts';
import { Scenario, simulateTimeline } from '../../src/simulator/index.ts';

const file = readFileSync(new URL('../../examples/training.csv', import.meta.url), 'utf8');

describe("examples/training.csv (the README's baseline create file)", () => {
  it('is what examples/make-training-file.ts prints (regenerate it with the command in that file)', () => {
    expect(file).toBe(trainingCsv(5000));
  });

  it("profiles as the simulator's fraud model: its features, the output and the label; id and time columns left out", () => {
    const rows = parseTrainingFile(file, 'csv');
    expect(rows.length).toBe(5000);
    const start = Date.UTC(2026, 0, 5);
    const simulated = simulateTimeline(new Scenario({ seed: 1, startMs: start, models: ['fraud'] }), { fromMs: start, toMs: start + 1000, rate: 10 });
    const event = [...simulated].find((e) => e.kind === 'pred');
    expect(Object.keys(rows[0].features).sort()).toEqual(Object.keys(event?.kind === 'pred' ? (event.event.features ?? {}) : {}).sort());
    expect(rows.every((r) => typeof r.output === 'number' && r.label !== undefined)).toBe(true);
    const reader = new CsvReader({}, () => undefined);
    reader.push(file);
    reader.end();
    const roles = Object.fromEntries(summarizeColumns(reader.columnStats(), 5000).map((c) => [c.name, c.reason ?? c.role]));
    expect(roles).toMatchObject({ transaction_id: 'id', event_time: 'timestamp', output: 'output', label: 'label', amount: 'feature', country: 'feature' });
  });
});
