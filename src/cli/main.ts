#!/usr/bin/env node
/** The stonks command line. Every command takes --db; mistakes end in one line on stderr and a non-zero exit. */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import type { TokenRole } from "../contract/auth.js";
import { StonksError } from "../errors.js";
import type { DbOption } from "./common.js";
import type { ServeOptions } from "./serve.js";
import type { SyncOptions } from "./sync.js";

const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

type JsonOption = DbOption & { json?: boolean };

/** Exit status of a command-line usage mistake (unknown option, missing argument). */
const USAGE_ERROR = 2;

const dbOption = () =>
  new Option(
    "--db <path>",
    "database file, or a postgresql://user@host/db URL (default: $STONKS_DB, else ./stonks.db)",
  );

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Commands load their modules when they run, so help and usage errors answer fast. */
function buildProgram(): Command {
  const program = new Command("stonks")
    .description("Local-first experiment tracking: browse and manage the runs in a stonks database.")
    .version(packageJson.version)
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`stonks: ${text.replace(/^error: /, "").trim()}\n`),
    })
    .showSuggestionAfterError(true);

  program
    .command("serve")
    .description("serve the dashboard and the JSON API")
    .addOption(dbOption())
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port)", "8000")
    .option(
      "--token <token>",
      "an admin token every API request may carry; with it (or tokens made by `stonks token create`) every request needs one (default: $STONKS_TOKEN)",
    )
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM, the chain after it); needs --tls-key")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option(
      "--allow-origin <origin>",
      "also answer pages from this origin, e.g. http://localhost:5173 (repeatable; default: $STONKS_ALLOW_ORIGINS, comma-separated)",
      collect,
      [],
    )
    .option("--demo", "add the demo experiments to the database first, unless they are there already")
    .option(
      "--pg-pool <n>",
      "with a PostgreSQL --db: connections this server opens at most (default: $STONKS_PG_POOL, else 4)",
    )
    .option(
      "--wait-for-db <seconds>",
      "with a PostgreSQL --db that cannot be reached at start: keep trying this long, then exit 1 (0: exit at once; default: $STONKS_WAIT_FOR_DB, else 60)",
    )
    .action(async (options: ServeOptions) => (await import("./serve.js")).serveCommand(options));

  program
    .command("ls")
    .description("list experiments with their run counts")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(async (options: JsonOption) => (await import("./inspect.js")).listExperimentsCommand(options));

  program
    .command("runs")
    .description("list the runs of an experiment, newest first")
    .argument("<experiment>", "experiment name or id")
    .addOption(dbOption())
    .option(
      "--status <status>",
      "only runs with this status: running, stale, completed, failed, interrupted (repeatable)",
      collect,
      [],
    )
    .option("--tag <tag>", "only runs with this tag (repeatable: every tag)", collect, [])
    .option(
      "-w, --where <expression>",
      "only runs this expression keeps, e.g. 'config.lr < 0.01 AND metric.val/acc.max > 0.9' (repeatable: every one)",
      collect,
      [],
    )
    .option("--json", "print JSON")
    .action(async (experiment: string, options: JsonOption & { status: string[]; tag: string[]; where: string[] }) =>
      (await import("./inspect.js")).listRunsCommand(experiment, options),
    );

  program
    .command("info")
    .description("counts, file size and schema version of the database")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(async (options: JsonOption) => (await import("./inspect.js")).infoCommand(options));

  program
    .command("export")
    .description("write every metric point of a run as CSV or JSON, or of a run or experiment as Parquet")
    .argument("<run>", "run id (or a unique prefix of it); with -f parquet also an experiment name or id")
    .addOption(dbOption())
    .option("-f, --format <format>", "csv, json or parquet", "csv")
    .option("-o, --output <file>", "write to this file instead of stdout (parquet: this folder, required)")
    .action(async (run: string, options: DbOption & { format: string; output?: string }) =>
      (await import("./inspect.js")).exportCommand(run, options),
    );

  program
    .command("delete")
    .description("delete a run or an experiment with all its points (asks first)")
    .argument("<run-or-experiment>", "run id (or unique prefix), or experiment name or id")
    .addOption(dbOption())
    .option("-f, --force", "do not ask")
    .action(async (target: string, options: DbOption & { force?: boolean }) =>
      (await import("./cleanup.js")).deleteCommand(target, options),
    );

  program
    .command("gc")
    .description("delete old or unwanted runs, then compact the file")
    .addOption(dbOption())
    .option("--before <days>", "only runs created more than this many days ago")
    .option("--status <status>", "only runs with these statuses (comma-separated; stale = running without heartbeat)")
    .option("-f, --force", "do not ask")
    .action(async (options: DbOption & { before?: string; status?: string; force?: boolean }) =>
      (await import("./cleanup.js")).gcCommand(options),
    );

  program
    .command("import")
    .description(
      "bring runs from another tracker (stonks import tensorboard LOGDIR, mlflow, wandb, neptune) or a database of the original stonks package (stonks import FILE)",
    )
    .argument("<kind>", "what to import: tensorboard, mlflow, wandb, neptune; or the original stonks database file")
    .argument("[source]", "the log directory, tracking store or export to read (it is only read)")
    .addOption(dbOption())
    .option("--experiment <name>", "put every imported run in this experiment")
    .option("--dry-run", "say what would be imported, write nothing")
    .action(
      async (kind: string, source: string | undefined, options: DbOption & { dryRun?: boolean; experiment?: string }) =>
        (await import("./import.js")).importCommand(kind, source, options),
    );

  const token = program
    .command("token")
    .description("API tokens of a server: read, write (log runs) or admin (also edit and delete)");
  token
    .command("create")
    .description("make a token; prints its secret once (the file keeps only a hash)")
    .addOption(
      new Option("--role <role>", "what it may do: read, write (also log runs) or admin (also edit and delete)")
        .choices(["read", "write", "admin"])
        .makeOptionMandatory(),
    )
    .option("--name <name>", "a name to list and revoke it by (default: <role>-<id>)")
    .addOption(dbOption())
    .action(async (options: DbOption & { role: TokenRole; name?: string }) =>
      (await import("./token.js")).createTokenCommand(options),
    );
  token
    .command("list")
    .description("list the tokens (never their secrets)")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(async (options: JsonOption) => (await import("./token.js")).listTokensCommand(options));
  token
    .command("revoke")
    .description("revoke a token: it opens nothing from the next request on")
    .argument("<token>", "its id or name")
    .addOption(dbOption())
    .action(async (idOrName: string, options: DbOption) =>
      (await import("./token.js")).revokeTokenCommand(idOrName, options),
    );

  program
    .command("sync")
    .description("send every run of a local stonks file to a server (only what it lacks; the file is not changed)")
    .argument("<file>", "the stonks file")
    .argument("<url>", "the server, http://host:port or https://host")
    .option("--token <token>", "a token with write access (default: STONKS_TOKEN)")
    .option("--watch", "keep sending as the file grows, until Ctrl-C")
    .action(async (file: string, url: string, options: SyncOptions) =>
      (await import("./sync.js")).syncCommand(file, url, options),
    );

  program
    .command("migrate")
    .description(
      "copy everything of one stonks store into another: a SQLite file or a postgresql:// database, either way (only what TO lacks; run again to resume)",
    )
    .argument("<from>", "the store to copy: a stonks file or postgresql://user@host/db (only read)")
    .argument("<to>", "the store to copy into: a file (made when missing) or postgresql://user@host/db")
    .action(async (from: string, to: string) => (await import("./migrate.js")).migrateCommand(from, to));

  program
    .command("demo")
    .description("add demo data (3 experiments, 36 runs, a million-point run) once to the database")
    .addOption(dbOption())
    .action(async (options: DbOption) => (await import("./serve.js")).demoCommand(options));

  return program;
}

async function main(argv: string[]): Promise<void> {
  // `stonks export … | head` closes the pipe early; that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end here too; commander already printed what it had to say.
      process.exitCode = error.exitCode === 0 ? 0 : USAGE_ERROR;
      return;
    }
    if (error instanceof StonksError) {
      process.stderr.write(`stonks: ${error.message}\n`);
    } else {
      process.stderr.write(`stonks: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exitCode = 1;
  }
}

await main(process.argv);
