// The host's memory as a run may plan to use it, and byte counts as people read them. The
// machine's memory is the host's to say (os.totalmem() in Node), so it comes in as a number.

/** The share of the machine's memory one run may plan to use: the rest is the system's. */
export const HOST_FRACTION = 0.75;

/** Host bytes a run may plan to use: HOST_FRACTION of the machine's memory. */
export function hostBudget(memoryBytes: number): number {
  return Math.floor(memoryBytes * HOST_FRACTION);
}

/** What a run may use here, for a message: the budget, and where it comes from. */
export function budgetText(memoryBytes: number): string {
  return `the ${fmtBytes(hostBudget(memoryBytes))} arch allows a run on this machine (${Math.round(HOST_FRACTION * 100)}% of its ${fmtBytes(memoryBytes)})`;
}

/** 1.5 GiB, 256 MiB, 512 bytes: powers of 1024, as adapters state their limits and `free -h` memory. */
export function fmtBytes(b: number): string {
  if (b < 1024) return `${b} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let x = b;
  let u = -1;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${x >= 100 || Number.isInteger(x) ? x.toFixed(0) : x.toFixed(1)} ${units[u]}`;
}
