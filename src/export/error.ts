/** A model arch will not export in the asked format, with what to do instead. Exit code 2. */
export class ExportError extends Error {}
