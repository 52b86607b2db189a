// Requests to stop a long-running command: Ctrl-C (SIGINT), SIGTERM, and the end of the `npm run`
// that started it. npm passes SIGTERM to the `sh -c` running the script, and sh (dash) dies without
// passing it on, so the node process would be left running under init: it watches for that instead.

export type StopReason = "SIGINT" | "SIGTERM" | "npm ended";

/** How often the parent is checked: a stop is seen within this many ms. */
const PARENT_POLL_MS = 250;

/** Calls `stop` on each SIGINT or SIGTERM, and once if the `npm run` parent goes away; returns the unsubscribe. */
export function onStopRequest(stop: (reason: StopReason) => void): () => void {
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  let timer: ReturnType<typeof setInterval> | undefined;
  if (process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid;
    timer = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(timer);
      stop("npm ended");
    }, PARENT_POLL_MS);
    timer.unref();
  }
  return () => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    clearInterval(timer);
  };
}
