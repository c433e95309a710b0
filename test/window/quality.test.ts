import { describe, expect, it } from 'vitest';
import { DEFAULT_PANE_LIMITS, PaneOutcome } from '../../src/window/pane.ts';
import { qualityOf } from '../../src/window/quality.ts';

describe('window quality of class outputs', () => {
  it('is computed when only one class has been seen (every label and output the same class)', () => {
    const outcome = new PaneOutcome(DEFAULT_PANE_LIMITS);
    for (let i = 0; i < 5; i++) outcome.addJoined('cat', 'cat', 0.5, 100, false, null);
    const quality = qualityOf(outcome);
    expect(quality).toMatchObject({ labeled: 5, accuracy: 1, precision: 1, recall: 1, f1: 1, confusion: { classes: ['cat'], matrix: [[5]] } });
  });

  it('grades two or more classes as before: accuracy, macro precision and recall, the confusion matrix', () => {
    const outcome = new PaneOutcome(DEFAULT_PANE_LIMITS);
    outcome.addJoined('cat', 'cat', 0.5, 100, false, null);
    outcome.addJoined('dog', 'cat', 0.5, 100, false, null);
    outcome.addJoined('dog', 'dog', 0.5, 100, false, null);
    outcome.addJoined('cat', 'dog', 0.5, 100, false, null);
    const quality = qualityOf(outcome);
    expect(quality.accuracy).toBe(0.5);
    expect(quality.confusion).toEqual({ classes: ['cat', 'dog'], matrix: [[1, 1], [1, 1]] });
    expect(quality.precision).toBe(0.5);
  });
});
