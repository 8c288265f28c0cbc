import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { fileURLToPath } from "node:url";
import express, { type NextFunction, type Request, type Response } from "express";

/** Where `npm run build` puts the IDE's bundle (lib/ sits beside src/, so both find it here). */
export const GRAPHIQL_ASSETS_DIR = fileURLToPath(new URL("../../lib/graphiql/", import.meta.url));

export interface GraphiqlRouteOptions {
  enabled: boolean;
  /** The folder holding manifest.json and the files it names; GRAPHIQL_ASSETS_DIR by default. */
  assetsDir?: string;
}

// The page runs only the service's own script (its settings travel in a JSON element, never as
// inline script); fonts and icons are data: URIs inside the style sheet. 'self' covers the
// page's own ws:// origin for subscriptions. Menus and dialogs add one <style> element (the
// scroll lock of the component library) under a nonce made per page.
function contentSecurityPolicy(styleNonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const noSuchFile = (res: Response) => res.status(404).json({ errors: [{ message: "No such GraphiQL file", extensions: { code: "NOT_FOUND" } }] });
const BUNDLE_FILE = /^\/[\w-]+\.(js|css)(\.LEGAL\.txt)?$/;
const YEAR_SECONDS = 365 * 24 * 60 * 60;

function notEnabled(res: Response): void {
  res.status(404).json({ errors: [{ message: "GraphiQL is not enabled on this service", extensions: { code: "NOT_FOUND" } }] });
}

/** A browser opening the endpoint (it prefers HTML to JSON) rather than a client sending an operation. */
function wantsPage(req: Request): boolean {
  return req.accepts(["application/graphql-response+json", "application/json", "text/html"]) === "text/html";
}

/**
 * GET /graphiql (and GET /graphql from a browser): the IDE's page; /graphiql/assets/: its files,
 * whose names change with their content. Switched off, each of them answers a short 404.
 */
export function graphiqlRoutes(options: GraphiqlRouteOptions): express.Router {
  const assetsDir = options.assetsDir ?? GRAPHIQL_ASSETS_DIR;
  const router = express.Router();

  const page = async (_req: Request, res: Response) => {
    if (!options.enabled) return notEnabled(res);
    let manifest: { script: string; style: string };
    try {
      // Read per request: a rebuild while the service runs changes the names.
      manifest = JSON.parse(await fs.readFile(`${assetsDir}/manifest.json`, "utf8"));
    } catch {
      res.status(503).json({ errors: [{ message: "GraphiQL's files are not built; npm run build makes them", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
      return;
    }
    const styleNonce = randomBytes(16).toString("base64");
    res
      .status(200)
      .set({
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": contentSecurityPolicy(styleNonce),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      })
      .send(pageHtml(manifest, { endpoint: "/graphql", subscriptionEndpoint: "/graphql", styleNonce }));
  };

  router.get(["/graphiql", "/graphiql/"], page);
  router.get("/graphql", (req, res, next) => (wantsPage(req) ? page(req, res) : next()));
  router.use(
    "/graphiql/assets",
    (_req, res, next) => (options.enabled ? next() : notEnabled(res)),
    // Only the bundles (content-hashed, so cached for good) and their licence texts: the
    // manifest and the build's own bookkeeping beside them are not the browser's.
    (req: Request, res: Response, next: NextFunction) => (BUNDLE_FILE.test(req.path) ? next() : noSuchFile(res)),
    express.static(assetsDir, {
      index: false,
      redirect: false,
      immutable: true,
      maxAge: YEAR_SECONDS * 1000,
      setHeaders: (res) => res.setHeader("X-Content-Type-Options", "nosniff"),
    }),
    (_req: Request, res: Response) => noSuchFile(res),
  );
  return router;
}

function pageHtml(manifest: { script: string; style: string }, settings: object): string {
  const asset = (name: string) => `/graphiql/assets/${encodeURIComponent(name)}`;
  // `<` escaped so no value can close the element early.
  const json = JSON.stringify(settings).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · Media library</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${asset(manifest.style)}">
<script type="application/json" id="graphiql-config">${json}</script>
<script type="module" src="${asset(manifest.script)}"></script>
</head>
<body>
<div id="graphiql"></div>
</body>
</html>
`;
}
