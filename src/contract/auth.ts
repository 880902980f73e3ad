/**
 * Token roles (docs/rest-api.md, "Tokens and roles"): each role may do what
 * the ones before it may. Browser-safe.
 */
export const TOKEN_ROLES = ["read", "write", "admin"] as const;

export type TokenRole = (typeof TOKEN_ROLES)[number];

/** What a route needs: a role, or nothing at all (the API description). */
export type RouteAccess = TokenRole | "none";

/** Whether a token of role `has` may use a route that needs `needs`. */
export function roleAllows(has: TokenRole, needs: RouteAccess): boolean {
  return needs === "none" || TOKEN_ROLES.indexOf(has) >= TOKEN_ROLES.indexOf(needs);
}
