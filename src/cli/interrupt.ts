// Ctrl-C for long commands: the first SIGINT asks the work to stop at its next safe point (a
// checkpoint is saved), a second one exits at once.

export interface Interrupt {
  /** Whether Ctrl-C was pressed (once). */
  readonly requested: () => boolean;
  /** Stops listening. */
  readonly dispose: () => void;
}

/** Listens for SIGINT; `first` is printed on the first, `again` before exiting on the second. */
export function onInterrupt(first: string, again: string): Interrupt {
  let stop = false;
  const handler = () => {
    if (stop) {
      process.stderr.write(`\n${again}\n`);
      process.exit(130);
    }
    stop = true;
    process.stderr.write(`\n${first}\n`);
  };
  process.on('SIGINT', handler);
  return { requested: () => stop, dispose: () => process.off('SIGINT', handler) };
}

/** For work whose caller handles Ctrl-C itself: never requested. */
export const NO_INTERRUPT: Interrupt = { requested: () => false, dispose: () => {} };
