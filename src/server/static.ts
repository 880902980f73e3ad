/**
 * The built dashboard (ui/dist) as static files. Paths are decoded once,
 * checked segment by segment and resolved inside the root, so nothing outside
 * the folder can be read. Unknown paths without a file extension get
 * index.html, so deep links into the single-page app load it.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, type Stats, statSync } from "node:fs";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** ui/dist of the installed package (this file is dist/server/static.js or src/server/static.ts). */
const DEFAULT_UI_DIR = fileURLToPath(new URL("../../ui/dist/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stonks</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>stonks</h1>
<p>The dashboard is not built yet. Build it with <code>npm run build</code> in the stonks folder
and reload this page.</p>
<p>The JSON API works already: <a href="/api/experiments">/api/experiments</a>.</p>
</body></html>
`;

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

function inlineHashes(html: string, tag: "script" | "style"): string[] {
  // Only elements without src carry inline code; their exact text is what the browser hashes.
  const pattern = new RegExp(`<${tag}(?![^>]*\\ssrc=)[^>]*>([\\s\\S]*?)</${tag}>`, "gi");
  return [...html.matchAll(pattern)].map(
    (match) => `'sha256-${createHash("sha256").update(match[1], "utf8").digest("base64")}'`,
  );
}

/**
 * The page may run only its own files and the inline code it was built with
 * (by hash), load nothing from elsewhere and send requests only to this
 * server, so injected markup can neither run nor send data out.
 */
export function contentSecurityPolicy(html: string): string {
  return [
    "default-src 'self'",
    ["script-src 'self'", ...inlineHashes(html, "script")].join(" "),
    ["style-src 'self'", ...inlineHashes(html, "style")].join(" "),
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function html(body: string, status: number): Response {
  return new Response(body, {
    status,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-cache",
      "Content-Security-Policy": contentSecurityPolicy(body),
      ...SECURITY_HEADERS,
    },
  });
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Safe path segments of a URL path, or null when any is unusable (.., NUL, backslash, bad escape). */
export function safeSegments(urlPath: string): string[] | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const segments = decoded.split("/").filter((s) => s !== "" && s !== ".");
  for (const segment of segments) {
    if (segment === ".." || segment.includes("\\") || segment.includes("\0") || segment.includes(":")) return null;
  }
  return segments;
}

export class StaticFiles {
  private readonly root: string;

  constructor(root: string = DEFAULT_UI_DIR) {
    this.root = resolve(root);
  }

  get built(): boolean {
    return existsSync(resolve(this.root, "index.html"));
  }

  /** Answers a GET or HEAD for a non-API path. */
  async serve(urlPath: string, method: string): Promise<Response> {
    if (method !== "GET" && method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD", ...SECURITY_HEADERS } });
    }
    if (!this.built) return html(NOT_BUILT_PAGE, 200);
    const segments = safeSegments(urlPath);
    if (segments === null) return new Response("Bad Request", { status: 400, headers: SECURITY_HEADERS });
    let file = resolve(this.root, ...segments);
    if (file !== this.root && !file.startsWith(this.root + sep)) {
      return new Response("Bad Request", { status: 400, headers: SECURITY_HEADERS });
    }
    let stats = statOrNull(file);
    if (stats?.isDirectory()) {
      file = resolve(file, "index.html");
      stats = statOrNull(file);
    }
    if (stats === null || !stats.isFile()) {
      // A path with an extension names a file that is missing; anything else is a route of the app.
      if (extname(segments[segments.length - 1] ?? "") !== "") {
        return new Response("Not Found", { status: 404, headers: SECURITY_HEADERS });
      }
      file = resolve(this.root, "index.html");
    }
    // Read at once, not on the thread pool: the bundle and its stylesheet then leave in the order asked,
    // ahead of the API reads the page starts while they download (index.html), not after them.
    const content = readFileSync(file);
    const immutable = segments[0] === "assets" && file !== resolve(this.root, "index.html");
    const isHtml = extname(file).toLowerCase() === ".html";
    return new Response(method === "HEAD" ? null : content, {
      status: 200,
      headers: {
        "Content-Type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
        // Vite puts content-hashed names under assets/; everything else may change with a rebuild.
        "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
        ...(isHtml ? { "Content-Security-Policy": contentSecurityPolicy(content.toString("utf8")) } : {}),
        ...SECURITY_HEADERS,
      },
    });
  }
}
