/** Access control: users and roles, tokens, the login cookie, and who a request comes from. */
export { AccessControl, cameOverHttps, clientAddress, getAccessControl, type AccessControlOptions, type Authentication } from "./access-control.js";
export { cookieName, loginMaxAgeS } from "./cookie.js";
export { accessMode, isLoopbackHost, type AccessMode } from "./mode.js";
export { hasRole, isRole, localIdentity, mayActOn, roles, type Identity, type Role } from "./roles.js";
export { LoginThrottle, type ThrottleOptions } from "./throttle.js";
export { UsersStore, dataDirectory, userNamePattern, type UserSummary } from "./users.js";
