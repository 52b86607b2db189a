// Options of the `vae` commands: node:util parseArgs plus one-line errors and generated help.
import { parseArgs } from "node:util";

/** A mistake in the command line: reported in one line, exit code 2. */
export class UsageError extends Error {}

export interface OptionSpec {
  /** Placeholder of the value, e.g. "FILE"; absent for a flag. */
  value?: string;
  short?: string;
  help: string;
}

export interface Command {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
}

export type Values = Record<string, string | boolean | undefined>;

export function helpText({ name, summary, options }: Command): string {
  const all: Record<string, OptionSpec> = { ...options, help: { short: "h", help: "show this help" } };
  const lines = Object.entries(all).map(([key, o]) => [`${o.short ? `-${o.short}, ` : "    "}--${key}${o.value ? ` ${o.value}` : ""}`, o.help]);
  const width = Math.max(...lines.map(([l]) => l.length)) + 2;
  return `usage: npm run vae -- ${name} [options]\n\n${summary}\n\noptions:\n${lines.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join("\n")}\n`;
}

/** A negative number such as -1, -0.5 or -1e3: after an option that takes a value, it is that value. */
const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Parses argv for `command`; null when --help was asked for (the caller prints helpText). */
export function parseCommand(command: Command, argv: string[]): Values | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [key, o] of Object.entries(command.options)) options[key] = { type: o.value ? "string" : "boolean", ...(o.short && { short: o.short }) };
  // parseArgs takes "-1" in `--epochs -1` for an option; join such pairs as `--epochs=-1` so that the
  // range check, not the parser, rejects the value.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].startsWith("--") ? argv[i].slice(2) : undefined;
    if (key !== undefined && command.options[key]?.value && NEGATIVE_NUMBER.test(argv[i + 1] ?? "")) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  let values: Values;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    const { code, message } = e as { code?: string; message: string };
    if (!code?.startsWith("ERR_PARSE_ARGS")) throw e;
    const opt = /'(-[^' ]+)/.exec(message)?.[1] ?? "";
    const spec = command.options[opt.replace(/^-+/, "")];
    const allowed = Object.keys(command.options).map((k) => `--${k}`).join(", ");
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${opt}; allowed: ${allowed || "none"} (see --help)`);
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") throw new UsageError(`unexpected argument ${opt || message.match(/'([^']*)'/)?.[1]}; ${command.name} takes options only (see --help)`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new UsageError(spec?.value ? `${opt} needs a value: ${opt} ${spec.value} — ${spec.help}` : `${opt} is a flag and takes no value`);
    }
    throw new UsageError(message.split("\n")[0]);
  }
  return values.help ? null : values;
}

/** An integer option within [min, max], or `fallback` when absent. */
export function intOption(values: Values, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== "string" || !/^[+-]?\d+$/.test(raw.trim()) || v < min || v > max) {
    const kind = max !== Number.MAX_SAFE_INTEGER ? `an integer in ${min}..${max}` : min === 1 ? "a positive integer" : min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`;
    throw new UsageError(`--${key} must be ${kind}, got ${shown(raw)}`);
  }
  return v;
}

/** A finite positive number option, or `fallback` when absent. */
export function positiveOption(values: Values, key: string, fallback: number): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) || v <= 0) throw new UsageError(`--${key} must be a positive number, got ${shown(raw)}`);
  return v;
}

/** A value as typed when it is one plain word (-1, 1e30), else quoted. */
const shown = (raw: unknown) => (typeof raw === "string" && /^[\w.+-]+$/.test(raw) ? raw : JSON.stringify(raw));

export function choiceOption<T extends string>(values: Values, key: string, choices: readonly T[], fallback: T): T {
  const raw = values[key];
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) throw new UsageError(`--${key} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

export function stringOption(values: Values, key: string, required: true): string;
export function stringOption(values: Values, key: string, required?: false): string | undefined;
export function stringOption(values: Values, key: string, required = false): string | undefined {
  const raw = values[key];
  if (raw === undefined && required) throw new UsageError(`--${key} is required (see --help)`);
  if (raw === "") throw new UsageError(`--${key} must not be empty`);
  return raw as string | undefined;
}

export const SEED_MAX = 2 ** 32 - 1;
