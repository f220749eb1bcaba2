// The trainer's tokens/s (src/runtime/train/loop.ts, TokenRate): steps read back one late, so two
// reports can arrive together; the rate must stay the work over the time it took.
import { describe, expect, it } from 'vitest';
import { averageRate, TokenRate, type StepMetrics } from '../src/runtime/train/loop.js';

describe('TokenRate', () => {
  it('two reports at once share the span since the one before (not ~0 seconds)', () => {
    // 64 tokens a step; step 1 after 30 s (compiling), step 2 at 33 s, step 3 0.6 ms later
    const r = new TokenRate(0);
    expect(r.add(30_000, 64)).toBeCloseTo(64 / 30, 6);
    expect(r.add(33_000, 64)).toBeCloseTo(64 / 3, 6); // the window starts at step 1's report
    const last = r.add(33_000.6, 64);
    expect(last).toBeCloseTo(128 / 3.0006, 3); // steps 2 and 3 over the 3 s since step 1
    expect(last).toBeLessThan(100);
  });

  it('a steady stream gives its rate, measured over about the last two seconds', () => {
    const r = new TokenRate(0);
    let rate = 0;
    for (let i = 1; i <= 100; i++) rate = r.add(i * 250, 512); // 512 tokens every 250 ms
    expect(rate).toBeCloseTo(2048, 6);
    // then a slowdown to one step a second shows within the window, not averaged over the run
    for (let i = 1; i <= 4; i++) rate = r.add(25_000 + i * 1000, 512);
    expect(rate).toBeCloseTo(512, 6);
  });
});

describe('averageRate (the done line)', () => {
  const at = (step: number, elapsed_s: number, tokens_per_s = 0): StepMetrics => ({ step, loss: 1, lr: 1, grad_norm: 1, elapsed_s, tokens_per_s });
  it('counts the steps after the first over the time they took', () => {
    // step 1 done at 25 s (compiling), step 6 at 67 s: 5 steps of 128 tokens in 42 s
    expect(averageRate(at(1, 25), at(6, 67), 128)).toBeCloseTo((5 * 128) / 42, 6);
  });
  it('two steps read back together fall back to the last windowed rate, not ~100,000 tokens/s', () => {
    expect(averageRate(at(1, 151.43, 6.8), at(2, 151.44, 13.5), 1024)).toBe(13.5);
    expect(averageRate(at(1, 3, 99), at(1, 3, 99), 1024)).toBe(99); // one step
  });
});
