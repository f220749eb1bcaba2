// What a session call needs from its caller besides its arguments: the host (device, files,
// clock) and where diagnostics and progress text go. The CLI renders them to stderr; a page or an
// editor shows them its own way.
import type { Diagnostic } from '../../grammar/diagnostic.js';
import type { Host } from './host.js';

export interface SessionEnv {
  host: Host;
  /** The diagnostics of a compile worth showing (errors, and warnings unless asked to be quiet),
   *  with every source they may point into. */
  diagnostics(shown: Diagnostic[], sources: Map<string, string>): void;
  /** A line of progress text ("note: V = 65 (from the data's vocabulary)", "compiling for ..."). */
  log(text: string): void;
}
