/**
 * Limits that the server enforces and the dashboard, the CLI and the SDKs
 * respect before asking. One place, so a form never accepts what the API then
 * refuses. Browser-safe: no Node imports.
 */

/** Longest metric key, in Unicode code points; the SDKs and the API enforce it. */
export const MAX_KEY_LENGTH = 1000;

/** Most series one POST /api/series may ask for. */
export const MAX_SERIES_PER_REQUEST = 200;
/** Most points one answer of a point read carries (summed over its series); beyond, a 400 `too_many_points`. */
export const MAX_POINTS_PER_RESPONSE = 2_000_000;
/** Largest `downsample` a read may ask for. */
export const MAX_DOWNSAMPLE = 100_000;
/** `downsample` when a request names none. */
export const DEFAULT_DOWNSAMPLE = 1000;

/** Most runs one page of GET /api/experiments/{id}/runs holds (`limit`). */
export const MAX_PAGE_SIZE = 10_000;
/** Most `where` conditions in one run-list query. */
export const MAX_CONDITIONS = 20;
/** Longest text of `q`, `group`, `sort` or one `where` in a run-list query. */
export const MAX_QUERY_TEXT_LENGTH = 1000;
/** Longest `tag` filter value in a run-list query. */
export const MAX_TAG_FILTER_LENGTH = 200;

/** Ids and names in paths and queries: any text, within reason. */
export const MAX_ID_LENGTH = 512;
/** Largest request body accepted (PATCH and POST /api/series stay far below). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Longest run name a PATCH may set (the original stonks' limit). */
export const MAX_RUN_NAME_LENGTH = 256;
/** Longest run notes a PATCH may set. */
export const MAX_NOTES_LENGTH = 10_000;
/** Longest tag a PATCH may set. */
export const MAX_TAG_LENGTH = 64;
/** Most tags one run may have through a PATCH. */
export const MAX_TAGS = 64;

/** Longest workspace name. */
export const MAX_WORKSPACE_NAME = 100;
/** Most JSON text one saved workspace may hold. */
export const MAX_WORKSPACE_BYTES = 64 * 1024;

/** Most points one POST /api/runs/{id}/points carries (summed over its series); the shippers send at most 50,000. */
export const MAX_POINTS_PER_WRITE = 100_000;
/** Most series one POST /api/runs/{id}/points carries. */
export const MAX_SERIES_PER_WRITE = 10_000;
/**
 * Largest body of POST /api/runs/{id}/points: 100,000 points of three base64
 * float64 columns are 3.2 MB, and the keys come on top.
 */
export const MAX_POINTS_BODY_BYTES = 16 * 1024 * 1024;
/** Longest text field a PUT /api/runs/{id} may set: experiment, project, group, job type, provenance fields. */
export const MAX_META_TEXT_LENGTH = 4096;
