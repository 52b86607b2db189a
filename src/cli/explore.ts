// `npm run explore [-- --checkpoint FILE --port P]`: the latent explorer, a page that runs the VAE in the browser.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError, helpText, intOption, parseCommand, stringOption, type Command } from "./args.js";
import { onStopRequest } from "./signals.js";
import { DEFAULT_CHECKPOINT, DEFAULT_POINTS, DEFAULT_PORT, startExplorer, type Explorer } from "../node/explore.js";

export const exploreCommand: Command = {
  name: "explore",
  summary:
    "Serve the latent explorer: the test set's encoder means, the decoder under the pointer, the manifold, a pad to draw a\n" +
    "digit (its g(x) and ELBO), and training in a Web Worker, all computed in the browser by this library. Works offline.",
  options: {
    checkpoint: { value: "FILE", help: `model to explore (default ${DEFAULT_CHECKPOINT} if it exists, else an untrained model)` },
    port: { value: "P", help: `port (default ${DEFAULT_PORT}; 0 for any free port)` },
    host: { value: "H", help: "address to listen on (default 127.0.0.1, this machine only)" },
    points: { value: "N", help: `test images in the latent scatter (default ${DEFAULT_POINTS}, at most 10000)` },
  },
};

/** Starts the explorer for the command line `argv`; resolves to the running server (null after --help). */
export async function explore(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<Explorer | null> {
  const values = parseCommand(exploreCommand, argv);
  if (values === null) {
    out(helpText(exploreCommand).replace("npm run vae -- explore", "npm run explore --"));
    return null;
  }
  const explorer = await startExplorer({
    checkpoint: stringOption(values, "checkpoint"),
    port: intOption(values, "port", DEFAULT_PORT, 0, 65535),
    host: stringOption(values, "host"),
    points: intOption(values, "points", DEFAULT_POINTS, 1, 10000),
  });
  out(`latent explorer: ${explorer.url}\nmodel: ${explorer.source}\n`);
  if (!explorer.checkpoint) {
    out(`note: no trained model; \`npm run vae\` trains one into ${DEFAULT_CHECKPOINT} (a few minutes), or press "Train here" on the page\n`);
  }
  out(`Ctrl-C stops the server\n`);
  return explorer;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const explorer = await explore(process.argv.slice(2));
    if (explorer) {
      // Ctrl-C, SIGTERM, or the end of the `npm run explore` that started it, stop the server.
      const unsubscribe = onStopRequest(() => {
        unsubscribe();
        void explorer.close().then(() => process.exit(0));
      });
    }
  } catch (e) {
    process.stderr.write(`explore: error: ${(e as Error).message}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
