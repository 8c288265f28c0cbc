import type { NextFunction, Request, Response } from "express";
import { graphqlUploadExpress, processRequest } from "graphql-upload-minimal";

export interface MultipartLimits {
  maxFileSize: number;
  maxFiles: number;
  maxFieldSize: number;
}

/**
 * Parses GraphQL multipart requests. The parser reports a malformed body once and then, while
 * being torn down, emits a second error nobody listens to, which would end the process; a
 * lasting listener on the parser keeps one bad request from taking the service down.
 */
export function multipartUploads(limits: MultipartLimits) {
  type Process = typeof processRequest;
  // The middleware accepts a processRequest option that its type declarations leave out.
  const options = {
    ...limits,
    processRequest: (req: Parameters<Process>[0], res: Parameters<Process>[1], opts: Parameters<Process>[2]) => {
      const request = req as unknown as NodeJS.ReadableStream & { pipe: NodeJS.ReadableStream["pipe"] };
      const pipe = request.pipe;
      request.pipe = function pipeWithErrorGuard<T extends NodeJS.WritableStream>(this: unknown, destination: T, opts?: { end?: boolean }): T {
        destination.on("error", () => {});
        return pipe.call(this, destination, opts) as T;
      };
      return processRequest(req, res, opts).catch((err: unknown) => {
        throw asClientError(err);
      });
    },
  };
  return graphqlUploadExpress(options);
}

/** A refusal the client can act on: status 400 with a message of our own. */
function badRequest(message: string): Error & { status: number; expose: boolean } {
  return Object.assign(new Error(message), { status: 400, expose: true });
}

/**
 * A body that ends before its operations and map (empty, or only the closing boundary) is
 * reported by the parser as a bare error, or by the library as a 500 meant for a server whose
 * other middleware read the body first; here nothing else reads it, so both are the client's
 * malformed request. The parser's own wording is not passed on.
 */
function asClientError(err: unknown): unknown {
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number" && status < 500) return err;
  if (typeof status === "number") return badRequest("The multipart request holds no 'operations' and 'map' fields");
  return badRequest("The multipart request body is malformed or ends too early");
}

/**
 * Multipart requests must show they are not a simple cross-site form post before any part is
 * read (the server checks it again). Once the answer is sent, the rest of an unread body is
 * discarded so the connection is not left waiting on files nobody will read.
 */
export function multipartGuard(req: Request, res: Response, next: NextFunction): void {
  if (!req.is("multipart/form-data")) return next();
  if (!req.headers["apollo-require-preflight"] && !req.headers["x-apollo-operation-name"]) {
    // Nothing of the body is read; the connection closes after the answer.
    res.setHeader("Connection", "close");
    res.status(400).json({
      errors: [
        {
          message: "Multipart requests need an Apollo-Require-Preflight or X-Apollo-Operation-Name header",
          extensions: { code: "BAD_REQUEST" },
        },
      ],
    });
    return;
  }
  res.once("finish", () => {
    if (!req.complete) {
      req.unpipe();
      req.resume();
    }
  });
  next();
}
