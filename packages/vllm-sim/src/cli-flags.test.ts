import { describe, expect, it } from 'vitest';
import { parseSimArgs, simHelpText } from './cli-flags.ts';
import { DEFAULT_TIMING } from './options.ts';

describe('CLI flags', () => {
  it('parses pods, ports, timing and faults into a frozen config', () => {
    const c = parseSimArgs([
      '--prefill',
      '8',
      '--decode=8',
      '--base-port',
      '8100',
      '--no-think',
      '--step-base-ms',
      '4.5',
      '--error-rate-503',
      '0.25',
      '--drop-after-tokens',
      '10',
      '--slow-start-ms',
      '2000',
      '--model',
      'm',
    ]);
    expect(c.fleet).toMatchObject({
      prefill: 8,
      decode: 8,
      plain: 0,
      basePort: 8100,
      timing: { zeroDelay: true, stepBaseMs: 4.5 },
      faults: { errorRate503: 0.25, dropAfterTokens: 10, notReadyMs: 2000 },
      generation: { model: 'm' },
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.fleet)).toBe(true);
  });

  it('takes the defaults of options.ts, a leading -- and booleans as --flag=value', () => {
    const c = parseSimArgs(['--', '--plain', '1', '--no-think=false', '--enable-prompt-tokens-details']);
    expect(c.fleet.timing).toEqual({ ...DEFAULT_TIMING, zeroDelay: false });
    expect(c.fleet.generation?.promptTokensDetails).toBe(true);
    expect(c.fleet.advertiseHost).toBeUndefined();
  });

  it('takes per-pod speed factors, comma-separated or one per value', () => {
    const c = parseSimArgs([
      '--prefill',
      '2',
      '--decode',
      '4',
      '--pod-speed',
      'decode-3=0.5,prefill-1=0.8',
      'decode-0=2',
    ]);
    expect(c.fleet.podSpeed).toEqual({ 'decode-3': 0.5, 'prefill-1': 0.8, 'decode-0': 2 });
    expect(parseSimArgs(['--plain', '1']).fleet.podSpeed).toEqual({});
    const bad =
      (...args: string[]) =>
      () =>
        parseSimArgs(['--decode', '2', '--pod-speed', ...args]);
    expect(bad('decode-7=0.5')).toThrow('--pod-speed decode-7: no such pod (this fleet has decode-0, decode-1)');
    expect(bad('decode-1')).toThrow('--pod-speed expects POD=FACTOR');
    expect(bad('decode-1=0')).toThrow('the factor must be a number > 0, got "0"');
    expect(bad('decode-1=fast')).toThrow('the factor must be a number > 0');
    expect(bad('decode-1=0.5,decode-1=2')).toThrow('--pod-speed decode-1 is given twice');
  });

  it('rejects bad input with precise messages', () => {
    expect(() => parseSimArgs([])).toThrow('no pods');
    expect(() => parseSimArgs(['--plain', '1', '--bogus'])).toThrow('unknown flag --bogus');
    expect(() => parseSimArgs(['--plain', '1.5'])).toThrow('--plain expects an integer');
    expect(() => parseSimArgs(['--plain', '1', '--error-rate-429', '3'])).toThrow('--error-rate-429 must be <= 1');
    expect(() => parseSimArgs(['--plain'])).toThrow('--plain expects a value');
    expect(() => parseSimArgs(['--plain', '1', 'extra'])).toThrow('unexpected argument "extra"');
    expect(() => parseSimArgs(['--plain', '1', '--eos-min-tokens', '9', '--eos-max-tokens', '3'])).toThrow(
      'must not exceed',
    );
  });

  it('shows the defaults the simulator runs with', () => {
    const help = simHelpText();
    expect(help).toContain(
      `  --step-base-ms NUMBER\n      Fixed cost of one engine step, ms. [default ${DEFAULT_TIMING.stepBaseMs}]`,
    );
    expect(help).toContain(
      '  --advertise-host STRING\n      Host put in pod urls and in kv_transfer_params.remote_host. Set it to the pod IP when binding 0.0.0.0. [default host',
    );
    expect(parseSimArgs(['--help']).help).toBe(true);
  });
});
