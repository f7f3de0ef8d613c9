/**
 * Types shared by the authenticator (src/auth/authenticate.ts), the request handlers
 * (src/handlers) and the app (src/app.ts). Imports nothing that imports it back.
 */
import type { Context } from "hono";
import type { RouteConfig } from "../config/types.js";
import type { SessionEnv } from "../session/middleware.js";

/**
 * Decides whether a request may use a route that requires authentication. Returns
 * null to let it through, or the response to send instead.
 */
export type Authenticator = (c: Context<SessionEnv>, route: RouteConfig) => Promise<Response | null>;
