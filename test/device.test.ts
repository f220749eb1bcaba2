import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeDevice } from '../src/runtime/device.js';
import { MESA_PACKAGES, NoAdapterError, openDevice } from '../src/host/node/device.js';

describe('openDevice', () => {
  it('opens an adapter and reports it (OpenGL ES over llvmpipe on a GPU-less machine)', async () => {
    const d = await openDevice();
    try {
      expect(['vulkan', 'opengles', 'default']).toContain(d.info.backend);
      expect(d.info.adapterName.length).toBeGreaterThan(0);
      // Limits are the adapter's, not WebGPU's defaults (128 MiB is the default storage binding size).
      expect(d.limits.maxStorageBufferBindingSize).toBe(d.adapter.limits.maxStorageBufferBindingSize);
      expect(d.limits.maxStorageBuffersPerShaderStage).toBe(d.adapter.limits.maxStorageBuffersPerShaderStage);
      if (d.info.backend === 'opengles') {
        expect(d.info.adapterName).toMatch(/llvmpipe/);
        expect(d.info.isFallbackCpu).toBe(true);
      }
      const text = describeDevice(d);
      expect(text).toContain(d.info.adapterName);
      expect(text).toContain('maxStorageBufferBindingSize');
      expect(text).toContain(`backend:      ${d.info.backend}`);
      // auto: a CPU adapter gets the kernels tuned for it
      expect(text).toContain(`kernels:      ${d.info.isFallbackCpu ? 'cpu' : 'gpu'} (auto: by adapter`);
    } finally {
      d.destroy();
    }
  });

  it('runs a kernel on the device it opened', async () => {
    const d = await openDevice();
    try {
      const { device } = d;
      const n = 64;
      const buf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const read = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const module = device.createShaderModule({
        code: `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
               @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { o[g.x] = f32(g.x) * 2.0; }`,
      });
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(1);
      pass.end();
      enc.copyBufferToBuffer(buf, 0, read, 0, n * 4);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const out = new Float32Array(read.getMappedRange().slice(0));
      read.unmap();
      expect(out[0]).toBe(0);
      expect(out[63]).toBe(126);
    } finally {
      d.destroy();
    }
  });

  it('an unknown backend gives NoAdapterError with a one-paragraph explanation', async () => {
    const err = await openDevice({ backend: 'no-such-backend' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NoAdapterError);
    const msg = (err as NoAdapterError).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain('no-such-backend');
    expect(msg).toMatch(/unrecognised backend/);
    expect(msg).toContain(`apt-get install ${MESA_PACKAGES}`);
    expect(msg).toMatch(/Vulkan/);
    expect(msg).toMatch(/compile/);
    expect((err as NoAdapterError).attempts).toHaveLength(1);
  });

  it('the README and .ci/run name the packages that the no-adapter hint names', () => {
    expect(MESA_PACKAGES).toContain('libegl-dev');
    expect(readFileSync('README.md', 'utf8')).toContain(`apt-get install ${MESA_PACKAGES}`);
    expect(readFileSync('.ci/run', 'utf8')).toContain(`apt-get install -y -qq ${MESA_PACKAGES} `);
  });

  it('the process exits cleanly after destroy()', async () => {
    // The Node host's device.ts as built (dist/, which `npm test` compiles first), in a fresh process.
    const dir = mkdtempSync(join(tmpdir(), 'arch-device-'));
    try {
      const device = pathToFileURL(fileURLToPath(new URL('../dist/src/host/node/device.js', import.meta.url))).href;
      writeFileSync(
        join(dir, 'main.mjs'),
        `import { openDevice } from '${device}';
         const d = await openDevice();
         console.log('opened ' + d.info.backend);
         d.destroy();`,
      );
      const started = Date.now();
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((done) => {
        const child = spawn(process.execPath, [join(dir, 'main.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          done({ code: c, stdout });
        });
      });
      expect(stdout).toMatch(/^opened /);
      expect(code).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the workload sizes llvmpipe's thread pool: three threads a core for throughput, none for latency, Mesa's own unset", async () => {
    const device = pathToFileURL(fileURLToPath(new URL('../dist/src/host/node/device.js', import.meta.url))).href;
    const dir = mkdtempSync(join(tmpdir(), 'arch-threads-'));
    try {
      writeFileSync(
        join(dir, 'main.mjs'),
        `import { readdirSync } from 'node:fs';
         import { openDevice } from '${device}';
         const w = process.argv[2];
         const d = await openDevice(w === 'unset' ? {} : { workload: w });
         console.log(JSON.stringify({ backend: d.info.backend, env: process.env.LP_NUM_THREADS ?? null, threads: readdirSync('/proc/self/task').length }));
         d.destroy();`,
      );
      const run = (workload: string, env: Record<string, string> = {}) =>
        new Promise<{ backend: string; env: string | null; threads: number }>((done, fail) => {
          const base = { ...process.env };
          delete base.LP_NUM_THREADS;
          const child = spawn(process.execPath, [join(dir, 'main.mjs'), workload], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...base, ...env } });
          let out = '';
          child.stdout.on('data', (b: Buffer) => (out += b.toString()));
          child.on('exit', () => {
            try {
              done(JSON.parse(out.trim().split('\n').at(-1)!));
            } catch {
              fail(new Error(`no report from the child: ${out}`));
            }
          });
        });
      const unset = await run('unset');
      const throughput = await run('throughput');
      const latency = await run('latency');
      const chosen = await run('throughput', { LP_NUM_THREADS: '1' });
      expect(unset.env).toBeNull();
      const cores = availableParallelism();
      expect(throughput.env).toBe(String(Math.max(cores, Math.min(32, 3 * cores))));
      expect(latency.env).toBe('0');
      expect(chosen.env).toBe('1'); // the user's setting wins
      if (unset.backend === 'opengles') {
        // Mesa honours it: llvmpipe's pools are threads of the process
        expect(throughput.threads).toBeGreaterThan(unset.threads);
        expect(latency.threads).toBeLessThan(unset.threads);
        expect(chosen.threads).toBeLessThan(throughput.threads);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
