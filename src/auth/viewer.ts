import { errors as joseErrors, jwtVerify } from "jose";
import { MediaError } from "../media/errors.js";

export interface Viewer {
  /** The owner whose library the request works on. */
  ownerId: string;
}

export interface AuthOptions {
  jwtSecret?: string;
  localOwnerId: string;
}

/**
 * Who is calling. With a JWT secret configured, a valid HS256 bearer token with an expiry is
 * required and its `sub` is the owner; without one the service runs as a single local owner (quick start only).
 */
export function createViewerResolver(options: AuthOptions): (authorization: string | undefined) => Promise<Viewer> {
  if (!options.jwtSecret) {
    const local: Viewer = { ownerId: options.localOwnerId };
    return async () => local;
  }
  const key = new TextEncoder().encode(options.jwtSecret);
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!match) throw new MediaError("UNAUTHENTICATED", "An Authorization: Bearer token is required");
    try {
      const { payload } = await jwtVerify(match[1]!, key, { algorithms: ["HS256"], requiredClaims: ["exp"] });
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw new MediaError("UNAUTHENTICATED", "The token has no subject");
      }
      return { ownerId: payload.sub };
    } catch (err) {
      if (err instanceof MediaError) throw err;
      const reason =
        err instanceof joseErrors.JWTExpired
          ? "The token has expired"
          : err instanceof joseErrors.JWTClaimValidationFailed && err.claim === "exp"
            ? "The token must carry an expiry (exp)"
            : "The token is not valid";
      throw new MediaError("UNAUTHENTICATED", reason);
    }
  };
}
