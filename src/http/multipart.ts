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
      return processRequest(req, res, opts);
    },
  };
  return graphqlUploadExpress(options);
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
