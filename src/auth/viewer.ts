import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { MediaError } from "../errors.js";

export interface Viewer {
  /** The owner whose library the request works on. */
  ownerId: string;
  /** Admins see and manage every owner's library. */
  admin: boolean;
  /** When the token stops being valid (ms since the epoch); long-lived connections end then. */
  expiresAt?: number;
}

export interface AuthOptions {
  /** HS256 shared secret. */
  jwtSecret?: string;
  /** URL of a JSON Web Key Set for RS256/ES256 tokens (fetched and cached). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Claim holding the caller's roles (a list or a space-separated string). */
  rolesClaim: string;
  adminRole: string;
  localOwnerId: string;
}

/** Resolves the viewer from an Authorization header value. */
export type ViewerResolver = (authorization: string | undefined) => Promise<Viewer>;

/** Looks up an API key (`Authorization: ApiKey <key>`); null when it is unknown or revoked. */
export type ApiKeyLookup = (key: string) => Promise<Viewer | null>;

/**
 * Who is calling. With a JWT secret or a JWKS URL configured, every request needs a valid bearer
 * token with an expiry (and the configured issuer and audience) whose `sub` is the owner, or an
 * API key; without either the service runs as a single local owner (quick start only).
 */
export function createViewerResolver(options: AuthOptions, apiKeys?: ApiKeyLookup): ViewerResolver {
  if (!options.jwtSecret && !options.jwksUrl) {
    const local: Viewer = { ownerId: options.localOwnerId, admin: false };
    return async () => local;
  }
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 10 * 60_000 }) : undefined;
  const algorithms = [...(secret ? ["HS256"] : []), ...(jwks ? ["RS256", "ES256"] : [])];
  const key: JWTVerifyGetKey = (header, token) => {
    if (header.alg === "HS256" && secret) return secret;
    if (jwks) return jwks(header, token);
    throw new joseErrors.JOSEAlgNotAllowed("unexpected algorithm");
  };

  return async (authorization) => {
    const apiKey = /^ApiKey\s+(\S+)$/i.exec(authorization ?? "");
    if (apiKey && apiKeys) {
      const viewer = await apiKeys(apiKey[1]!);
      if (!viewer) throw new MediaError("UNAUTHENTICATED", "The API key is not valid");
      return viewer;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!match) throw new MediaError("UNAUTHENTICATED", "An Authorization: Bearer token is required");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, key, {
        algorithms,
        requiredClaims: ["exp"],
        issuer: options.issuer,
        audience: options.audience,
      }));
    } catch (err) {
      const reason =
        err instanceof joseErrors.JWTExpired
          ? "The token has expired"
          : err instanceof joseErrors.JWTClaimValidationFailed && err.claim === "exp"
            ? "The token must carry an expiry (exp)"
            : "The token is not valid";
      throw new MediaError("UNAUTHENTICATED", reason);
    }
    if (typeof payload.sub !== "string" || payload.sub === "") throw new MediaError("UNAUTHENTICATED", "The token has no subject");
    return {
      ownerId: payload.sub,
      admin: rolesOf(payload, options.rolesClaim).includes(options.adminRole),
      expiresAt: payload.exp! * 1000,
    };
  };
}

/** The roles in a claim, which may be nested ("realm_access.roles") and a list or a string. */
function rolesOf(payload: JWTPayload, claim: string): string[] {
  let value: unknown = payload;
  for (const part of claim.split(".")) value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return typeof value === "string" ? value.split(/\s+/).filter(Boolean) : [];
}
