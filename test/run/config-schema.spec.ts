/**
 * The JSON Schema of hilt.config.json (configJsonSchema), made from the zod schema that checks the
 * file: what `hilt init` writes beside the config so editors complete and check it.
 */
import { expect } from 'chai';
import { configJsonSchema, METRICS, validateConfig } from '../../harness/run/config.ts';

type Schema = { type?: string; description?: string; properties?: Record<string, Schema>; additionalProperties?: boolean | Schema; anyOf?: Schema[]; items?: Schema; required?: string[]; minimum?: number; maximum?: number };

/** Every place a schema has named fields, with its path: "", "lab", "firmware.scenarios.*", ... */
function objects(s: Schema, path = ''): Array<[string, Schema]> {
  const here: Array<[string, Schema]> = s.properties ? [[path, s]] : [];
  const join = (k: string) => (path ? `${path}.${k}` : k);
  const below = [
    ...Object.entries(s.properties ?? {}).map(([k, v]) => objects(v, join(k))),
    ...(typeof s.additionalProperties === 'object' ? [objects(s.additionalProperties, join('*'))] : []),
    ...(s.anyOf ?? []).map((v) => objects(v, path)),
  ];
  return [...here, ...below.flat()];
}

/** The fields of `value` the schema does not name (what an editor would underline). */
function unnamed(s: Schema, value: unknown, path = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unnamed(s.items ?? s.anyOf?.find((a) => a.type === 'array')?.items ?? {}, v, `${path}[${i}]`));
  return Object.entries(value).flatMap(([k, v]) => {
    const field = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    return field ? unnamed(field, v, `${path}.${k}`) : [`${path}.${k}`];
  });
}

describe('hilt.config.json: its JSON Schema', function () {
  const schema = configJsonSchema() as Schema & { $schema: string; title: string };

  it('is draft-07 (what editors know best), titled, and refuses fields it does not name', function () {
    expect(schema.$schema).to.equal('http://json-schema.org/draft-07/schema#');
    expect(schema.title).to.equal('hilt.config.json');
    expect(schema.type).to.equal('object');
    for (const [path, s] of objects(schema)) expect(s.additionalProperties, `${path || '(top)'}`).to.not.equal(undefined);
    expect(schema.additionalProperties).to.equal(false);
    expect(schema.required ?? []).to.deep.equal([]);
  });

  it('describes every field, at every level (an editor shows it on hover)', function () {
    const missing = objects(schema).flatMap(([path, s]) => Object.entries(s.properties!).filter(([, v]) => !v.description).map(([k]) => `${path}.${k}`));
    expect(missing).to.deep.equal([]);
  });

  it('names what the config takes: every metric a budget may limit, whole numbers with their bounds', function () {
    expect(Object.keys(schema.properties!)).to.include.members(['target', 'targets', 'eachTarget', 'baseline', 'reports', 'budgets', 'firmware', '$schema']);
    expect(Object.keys(schema.properties!.budgets!.properties!)).to.deep.equal(Object.keys(METRICS));
    expect(schema.properties!.repeat).to.include({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(schema.properties!.reports!.properties!.keep).to.include({ type: 'integer', minimum: 1 });
    expect(schema.properties!.reset!.required).to.deep.equal(['command']);
  });

  it('a config hilt accepts has no field the schema does not name; a typo is one it does not', function () {
    const config = {
      $schema: './hilt.config.schema.json', targets: ['serial:/dev/ttyUSB0', 'serial:/dev/ttyUSB1'], eachTarget: true, certsDir: 'certs', reportDir: 'reports',
      reports: { keep: 20 }, baseline: 'release/1.4.0', lab: { hosts: ['192.168.1.20'] }, timeouts: { scenarioMs: 60000, commandMs: 15000, helloMs: 5000 },
      repeat: 5, budgets: { tls_ms: '<= baseline + 10%', heap_peak_used: '<= 48 KiB' }, scenarios: ['hil/'], reset: { command: 'uhubctl -a cycle -p 2', timeoutMs: 30000 },
      bench: { reset: { hard: 'R1|W200|R0', download: ['classic', 'classic-slow'], bootTimeoutMs: 2000 } }, endpoint: { host: '192.168.1.20', port: 8883 },
      firmware: { deviceId: 'esp32-hilt', scenarios: { 'MQTT Connect Backoff': { boundMs: 180000, attempts: 6 } } },
    };
    validateConfig(config, 'hilt.config.json'); // (hilt accepts it, $schema included)
    expect(unnamed(schema, config)).to.deep.equal([]);
    expect(unnamed(schema, { timeouts: { scenarioMS: 5 } })).to.deep.equal(['.timeouts.scenarioMS']);
  });
});
