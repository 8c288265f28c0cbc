import type { NextFunction, Request, Response } from "express";
import type { PersistedOperations } from "../graphql/persisted-operations.js";

/**
 * Runs after the body is parsed (JSON or multipart) and before GraphQL. A `documentId` (as
 * GraphQL-over-HTTP persisted documents name them) becomes the APQ extension Apollo understands;
 * in only-mode, an operation whose text or hash is not in the manifest is refused here, before
 * it is parsed, registered or run.
 */
export function persistedOperationsGate(operations: PersistedOperations) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const request = operationOf(req);
    if (request && typeof request.documentId === "string" && !request.extensions?.persistedQuery) {
      const text = operations.textFor(request.documentId);
      if (text === undefined) return refuse(res, "PERSISTED_QUERY_NOT_FOUND", "No persisted operation has this documentId");
      request.query = text;
      delete request.documentId;
    }
    if (!operations.only || req.method === "OPTIONS") return next();
    const query = typeof request?.query === "string" ? request.query : undefined;
    const hash = request?.extensions?.persistedQuery?.sha256Hash;
    if (!operations.allows({ query, hash: typeof hash === "string" ? hash : undefined })) {
      return refuse(res, "PERSISTED_QUERY_NOT_ALLOWED", "Only persisted operations are accepted here, and this one is not among them");
    }
    next();
  };
}

interface OperationFields {
  query?: unknown;
  documentId?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } };
}

/** The operation of a POST body (JSON, or a multipart request's operations) or of a GET's query string. */
function operationOf(req: Request): OperationFields | undefined {
  if (req.method === "GET") {
    const { query, extensions } = req.query as Record<string, unknown>;
    let parsed: OperationFields["extensions"];
    try {
      parsed = typeof extensions === "string" ? JSON.parse(extensions) : undefined;
    } catch {
      parsed = undefined;
    }
    return { query, extensions: parsed };
  }
  const body: unknown = req.body;
  // A batch is refused by the server anyway; its first operation stands for it here.
  const first = Array.isArray(body) ? body[0] : body;
  return first && typeof first === "object" ? (first as OperationFields) : undefined;
}

function refuse(res: Response, code: string, message: string): void {
  res.status(400).json({ errors: [{ message, extensions: { code } }] });
}
