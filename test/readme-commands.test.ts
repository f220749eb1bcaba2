// Every command a user is shown runs as written, in order, in a fresh copy of the project's
// files: the `sh` code blocks of README.md (the set-up, inspect, compile, profile, train, sample,
// eval, ablate, attention and export) and of docs/ablations.md (the studies and the induction
// run). docs/scale-out.md is left out: its path needs python, PyTorch and GPUs. Other docs show
// commands inside prose, for reference, not as steps to follow.
//
// Each command runs with bash in a temporary directory holding copies of models/, data/, docs/
// and test/malformed/, one after the other (later commands use what earlier ones wrote: runs/demo,
// runs/shakespeare), and must exit 0. To keep the whole under ~90 s on 2 cores, commands are
// rewritten by these rules, and only these:
//   - `npx arch` -> `node <this checkout>/bin/arch.js`;
//   - `--steps N` -> `--steps ceil(N / 100)` (300 -> 3, 600 -> 6: a run that continues another
//     still goes further than it);
//   - `--seeds N` -> `--seeds 1`;
//   - `--tokens N` (a count, not a file) -> `--tokens 20`;
//   - `--set D=128 --set N=4` -> `--set D=16 --set N=1` (the profile's speed config);
//   - `arch ablate` and `arch train` get `--eval-batches 1`.
// The README's commands and docs/ablations.md's are two tests (the second starts from what the
// first left: each doc continues from the README's set-up): 61 s and 36 s on 2 cores at load ~9.
// Commands that cannot run here are listed in SKIPPED with the reason, printed when the test runs.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SKIPPED: [RegExp, string][] = [
  [/^npm install$/, 'installs the project: this checkout is installed already'],
  [/^npm test$/, 'runs the whole test suite, this test included'],
  [/^npm run build:web$/, 'builds the playground, which test/web.test.ts builds and tests in a browser'],
  [/^npx arch playground\b/, 'a server that runs until stopped; test/web.test.ts tests it'],
  [/^npm run bench(:\w+)?$/, 'benchmarks run for minutes and are not part of the test suite'],
];

/** The commands of a markdown file's sh blocks: continuation lines joined, comments dropped, `a && b` split. */
function shCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const joined = block[1]!.replace(/\\\n\s*/g, '');
    for (const line of joined.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command && !command.startsWith('#')) out.push(...command.split(/\s+&&\s+/));
    }
  }
  return out;
}

function rewrite(command: string, arch: string): string {
  let c = command
    .replace(/--steps (\d+)/g, (_, n: string) => `--steps ${Math.ceil(Number(n) / 100)}`)
    .replace(/--seeds \d+/g, '--seeds 1')
    .replace(/--tokens (\d+)\b/g, '--tokens 20')
    .replace(/--set D=128 --set N=4/g, '--set D=16 --set N=1');
  if (/^npx arch (ablate|train)\b/.test(c)) c += ' --eval-batches 1';
  return c.replace(/^npx arch\b/, `node ${arch}`);
}

describe('the commands in the README and docs', () => {
  const root = resolve('.');
  const work = mkdtempSync(join(tmpdir(), 'arch-readme-'));
  for (const d of ['models', 'data', 'docs', 'test/malformed']) cpSync(join(root, d), join(work, d), { recursive: true });
  const skipped: string[] = [];

  function runAll(file: string): number {
    const commands = shCommands(readFileSync(file, 'utf8'));
    const times: string[] = [];
    let ran = 0;
    for (const c of commands) {
      const skip = SKIPPED.find(([re]) => re.test(c));
      if (skip) {
        skipped.push(`  ${file}: ${c}\n    skipped: ${skip[1]}`);
        continue;
      }
      const cmd = rewrite(c, join(root, 'bin/arch.js'));
      const t0 = performance.now();
      const r = spawnSync('bash', ['-c', cmd], { cwd: work, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
      times.push(`  ${((performance.now() - t0) / 1000).toFixed(1)} s  ${c.slice(0, 100)}`);
      expect(r.status, `${file}: ${c}\nran: ${cmd}\n${r.stderr.slice(-2000)}\nso far:\n${times.join('\n')}`).toBe(0);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at .*:\d+:\d+/);
      ran++;
    }
    process.stdout.write(`${file}: ${ran} commands ran\n${times.join('\n')}\n`);
    return ran;
  }

  it('README.md: every command runs as written, in order, from a fresh copy', () => {
    expect(runAll('README.md')).toBeGreaterThan(20);
    process.stdout.write(`skipped:\n${skipped.join('\n')}\n`);
    // npm install, npm test, npm run build:web, arch playground, and the three bench scripts
    expect(skipped.length).toBe(7);
  }, 300_000);

  it('docs/ablations.md: every study and the induction run, after the README', () => {
    expect(runAll('docs/ablations.md')).toBe(8);
  }, 300_000);

  it("the README's abridged listing of GPT-2 is models/gpt2.arch's text, in order, less what it leaves out", () => {
    const listing = /^```\n(model gpt2\n[\s\S]*?)^```$/m.exec(readFileSync('README.md', 'utf8'))![1]!;
    const code = (text: string) =>
      text
        .split('\n')
        .map((l) => l.replace(/\s*#.*$/, '').replace(/\s+/g, ' ').trimEnd())
        .filter((l) => l.trim() && l.trim() !== '...');
    const model = code(readFileSync('models/gpt2.arch', 'utf8'));
    let at = 0;
    for (const line of code(listing)) {
      const found = model.indexOf(line, at);
      expect(found, `README line not in models/gpt2.arch (after line ${at} of its code): ${line}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });
});
