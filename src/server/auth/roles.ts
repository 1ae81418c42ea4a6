/** Who may do what: four roles, each with everything the ones before it may do. */
export const roles = ["viewer", "runner", "editor", "admin"] as const;
export type Role = (typeof roles)[number];

/** Who a request comes from. With access control off (the loopback default) every request is `localIdentity`. */
export interface Identity {
  user: string;
  role: Role;
}

/** The one user of a studio without access control: the person at the machine. */
export const localIdentity: Identity = Object.freeze({ user: "local", role: "admin" });

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (roles as readonly string[]).includes(value);
}

/** True when `role` may do what `needed` may (viewer < runner < editor < admin). */
export function hasRole(role: Role, needed: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(needed);
}

/**
 * Whether `identity` may act on something `owner` started (cancel or rerun a run, delete its session):
 * admins may act on anyone's, the others on their own. Sessions recorded before users existed have no
 * owner and are the local user's.
 */
export function mayActOn(identity: Identity, owner: string | undefined): boolean {
  return identity.role === "admin" || (owner ?? localIdentity.user) === identity.user;
}
