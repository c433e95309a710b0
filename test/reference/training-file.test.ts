import { describe, expect, it } from 'vitest';
import { detectFormat, parseTrainingFile, splitCsv, TrainingFileError } from '../../src/reference/training-file.ts';
import type { TrainingFileFormat, TrainingFileOptions } from '../../src/reference/training-file.ts';

function errorOf(text: string, format: TrainingFileFormat, opts?: TrainingFileOptions): TrainingFileError {
  try {
    parseTrainingFile(text, format, opts);
  } catch (error) {
    expect(error).toBeInstanceOf(TrainingFileError);
    return error as TrainingFileError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('detectFormat', () => {
  it('maps extensions, case-insensitively', () => {
    expect(detectFormat('train.jsonl')).toBe('jsonl');
    expect(detectFormat('/data/train.NDJSON')).toBe('jsonl');
    expect(detectFormat('train.json')).toBe('jsonl');
    expect(detectFormat('dir.v2/train.CSV')).toBe('csv');
  });

  it('rejects unknown or missing extensions, naming the file', () => {
    expect(() => detectFormat('train.parquet')).toThrow(/'train\.parquet'.*'\.parquet'.*--format/);
    expect(() => detectFormat('train')).toThrow(/\(none\)/);
  });
});

describe('parseTrainingFile: jsonl', () => {
  it('reads flat objects: keys other than output/label are features', () => {
    const text = '{"age": 31, "city": "Paris", "output": 0.7, "label": 1}\n{"age": null, "city": "Lyon", "output": 0.2}\n';
    expect(parseTrainingFile(text, 'jsonl')).toEqual([
      { features: { age: 31, city: 'Paris' }, output: 0.7, label: 1 },
      { features: { age: null, city: 'Lyon' }, output: 0.2 },
    ]);
  });

  it('reads the API row shape {features, output, label}', () => {
    const text = '{"features": {"age": 31, "output": 5}, "output": "yes", "label": "no"}';
    expect(parseTrainingFile(text, 'jsonl')).toEqual([{ features: { age: 31, output: 5 }, output: 'yes', label: 'no' }]);
  });

  it('honours custom output/label columns and ignored keys; booleans become categories', () => {
    const text = '{"id": "r1", "score": 0.4, "y": 0, "x": 2, "flag": true}\r\n\n  \n{"id": "r2", "score": 0.9, "y": 1, "x": 3, "flag": false}';
    expect(parseTrainingFile(text, 'jsonl', { outputColumn: 'score', labelColumn: 'y', ignore: ['id'] })).toEqual([
      { features: { x: 2, flag: 'true' }, output: 0.4, label: 0 },
      { features: { x: 3, flag: 'false' }, output: 0.9, label: 1 },
    ]);
  });

  it('names the line of invalid JSON (blank lines count)', () => {
    const error = errorOf('{"a": 1}\n\n{"a": 2,}\n', 'jsonl');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^line 3: invalid JSON/);
  });

  it('rejects non-object lines, naming what they are', () => {
    expect(errorOf('{"a": 1}\n[1, 2]', 'jsonl').message).toBe('line 2: expected a JSON object, got an array');
    expect(errorOf('null', 'jsonl').message).toBe('line 1: expected a JSON object, got null');
    expect(errorOf('{"a": 1}\n{"a": 2}\n"x"', 'jsonl').message).toBe('line 3: expected a JSON object, got a string');
  });

  it('rejects non-finite numbers and nested values, naming line and key', () => {
    expect(errorOf('{"a": 1}\n{"a": 1e999}', 'jsonl').message).toBe("line 2: 'a' is a non-finite number");
    expect(errorOf('{"output": -1e400, "a": 1}', 'jsonl').message).toBe("line 1: 'output' is a non-finite number");
    expect(errorOf('{"a": [1]}', 'jsonl').message).toBe("line 1: 'a' must be a number, a string or null, got an array");
    expect(errorOf('{"features": {"a": {"b": 1}}}', 'jsonl').message).toBe('line 1: features.a must be a number, a string or null, got an object');
  });

  it('keys next to features are never features (a logged event carries id, model, ts...)', () => {
    expect(parseTrainingFile('{"features": {"a": 1}, "extra": 2}', 'jsonl')).toEqual([{ features: { a: 1 } }]);
  });

  it('rejects a file with no rows', () => {
    expect(errorOf('', 'jsonl').message).toMatch(/no rows/);
    expect(errorOf('\n  \n\n', 'jsonl').message).toMatch(/no rows/);
  });

  it('rejects an explicit output column no row has', () => {
    expect(errorOf('{"a": 1}', 'jsonl', { outputColumn: 'score' }).message).toBe("the output column 'score' is not in the file (columns: a)");
  });

  it('stops at the row limit, naming the line', () => {
    const error = errorOf('{"a":1}\n{"a":2}\n{"a":3}\n', 'jsonl', { maxRows: 2 });
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/more than 2 rows/);
  });
});

describe('splitCsv (RFC 4180)', () => {
  it('handles quoted commas, escaped quotes, newlines in quotes, CRLF and blank lines', () => {
    const text = 'a,b,c\r\n1,"x, ""y""\r\nz",\r\n\r\n"",  ,"end"';
    expect(splitCsv(text)).toEqual([
      { line: 1, cells: ['a', 'b', 'c'] },
      { line: 2, cells: ['1', 'x, "y"\r\nz', ''] },
      { line: 5, cells: ['', '  ', 'end'] },
    ]);
  });

  it('keeps line numbers right after multi-line cells', () => {
    const records = splitCsv('h\n"a\nb\nc"\nd\n');
    expect(records.map((r) => r.line)).toEqual([1, 2, 5]);
    expect(records[1].cells).toEqual(['a\nb\nc']);
  });

  it('treats a trailing comma as an empty last cell, with or without a final newline', () => {
    expect(splitCsv('a,b\n1,')).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['1', ''] },
    ]);
    expect(splitCsv('a,b\n1,\n')[1].cells).toEqual(['1', '']);
  });

  it('keeps a quote inside an unquoted cell literally', () => {
    expect(splitCsv('a\n5"6\n')[1].cells).toEqual(['5"6']);
  });
});

describe('parseTrainingFile: csv', () => {
  it('types cells: numbers, empty as null, the rest as strings', () => {
    const text = 'age,city,zip,output,label\n31,Paris,075,0.7,1\n,"New\nYork",-1.5e3,.25,0\n 42 ,"7",x1,yes,no\n';
    expect(parseTrainingFile(text, 'csv')).toEqual([
      { features: { age: 31, city: 'Paris', zip: 75 }, output: 0.7, label: 1 },
      { features: { age: null, city: 'New\nYork', zip: -1500 }, output: 0.25, label: 0 },
      { features: { age: 42, city: 7, zip: 'x1' }, output: 'yes', label: 'no' },
    ]);
  });

  it('honours custom output/label columns and ignored columns; strips a BOM', () => {
    const text = '\ufeffid,x,score,y\nr1,1,0.5,1\n';
    expect(parseTrainingFile(text, 'csv', { outputColumn: 'score', labelColumn: 'y', ignore: ['id'] })).toEqual([{ features: { x: 1 }, output: 0.5, label: 1 }]);
  });

  it('names the line of a row whose cell count differs from the header', () => {
    const error = errorOf('a,b\n1,2\n"multi\nline",2\n3,4,5\n', 'csv');
    expect(error.line).toBe(5);
    expect(error.message).toBe('line 5: the row has 3 cells but the header has 2 columns');
    expect(errorOf('a,b\n1\n', 'csv').message).toBe('line 2: the row has 1 cell but the header has 2 columns');
  });

  it('names line and column of an unterminated quote', () => {
    const error = errorOf('a,b\n1,2\n3,"oops\n4,5\n', 'csv');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^line 3, column 2: unterminated quoted cell/);
  });

  it('rejects text after a closing quote', () => {
    expect(errorOf('a,b\n"x"y,1\n', 'csv').message).toMatch(/^line 2, column 1: unexpected character 'y' after the closing quote/);
  });

  it('rejects non-finite numbers naming line, column and header', () => {
    expect(errorOf('a,b\n1,2\n3,1e999\n', 'csv').message).toBe("line 3, column 2 ('b'): '1e999' is a non-finite number");
    expect(errorOf('a,b\n1,NaN\n', 'csv').message).toMatch(/^line 2, column 2 \('b'\): 'NaN' is a non-finite number/);
    expect(errorOf('a\n-inf\n', 'csv').message).toMatch(/^line 2, column 1 \('a'\): '-inf' is a non-finite number/);
  });

  it('rejects files without rows, bad headers and missing explicit columns', () => {
    expect(errorOf('', 'csv').message).toMatch(/file is empty/);
    expect(errorOf('a,b\r\n', 'csv').message).toBe('the file has a header (line 1) but no data rows');
    expect(errorOf('a,,c\n1,2,3\n', 'csv').message).toBe('line 1, column 2: empty column name in the header');
    expect(errorOf('a,b,a\n1,2,3\n', 'csv').message).toBe("line 1: duplicate column 'a' (columns 1 and 3)");
    expect(errorOf('a,b\n1,2\n', 'csv', { labelColumn: 'y' }).message).toBe("line 1: the label column 'y' is not in the file (columns: a, b)");
  });

  it('stops at the row limit', () => {
    expect(errorOf('a\n1\n2\n3\n', 'csv', { maxRows: 2 }).message).toMatch(/^line 4: the file has more than 2 rows/);
    expect(parseTrainingFile('a\n1\n2\n', 'csv', { maxRows: 2 })).toHaveLength(2);
  });

  it('parses a large file in linear time', () => {
    const fileOf = (n: number): string => {
      const parts = ['x,cat,output\n'];
      for (let i = 0; i < n; i++) parts.push(`${i},"c, ${i % 3}",${i % 2}\n`);
      return parts.join('');
    };
    // best of three after a warm-up, so a busy machine's pauses and the JIT do not count: on 8 times
    // the rows a linear parser takes about 8 times as long, a quadratic one 64 times
    const bestMs = (text: string): number => {
      let best = Infinity;
      for (let run = 0; run < 3; run++) {
        const started = performance.now();
        parseTrainingFile(text, 'csv');
        best = Math.min(best, performance.now() - started);
      }
      return best;
    };
    const small = fileOf(25_000);
    const large = fileOf(200_000);
    parseTrainingFile(small, 'csv');
    const rows = parseTrainingFile(large, 'csv');
    expect(rows).toHaveLength(200_000);
    expect(rows[199_999]).toEqual({ features: { x: 199_999, cat: 'c, 1' }, output: 1 });
    expect(bestMs(large) / bestMs(small)).toBeLessThan(24);
  });
});
