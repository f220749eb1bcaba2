// The two failures a host reports by kind: the user's invocation or data (exit 2 in the CLI) and
// a model that does not compile (exit 1; its diagnostics were already shown). Errors of the
// layers below (CheckpointError, DataError, PlanLimitError, ...) carry their own kinds.

/** A bad invocation or bad data: what was asked cannot be done as asked. */
export class UsageError extends Error {}

/** The model has errors; the diagnostics say which, so the message may be empty. */
export class ModelError extends Error {}
