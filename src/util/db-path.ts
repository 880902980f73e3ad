/** Database location rule shared by the SDK, open() and the CLI: explicit > STONKS_DB > ./stonks.db. */
export function resolveDbPath(explicit?: string | null): string {
  if (explicit !== undefined && explicit !== null && explicit !== "") return explicit;
  const fromEnv = process.env.STONKS_DB;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return "./stonks.db";
}

export function isRemoteUrl(target: string): boolean {
  return /^https?:\/\//i.test(target);
}
