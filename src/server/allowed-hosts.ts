/**
 * Which `Host` a request may name. A page on another site can make a browser send requests to the studio
 * through a DNS name of its own that resolves to 127.0.0.1 (DNS rebinding): the browser then treats the
 * studio as that site, and only the `Host` header tells. So, as Vite's `server.allowedHosts` does, a
 * request must name the studio by an IP address, `localhost`, the host it listens on, or a name given in
 * `PROJECT_LLM_ALLOWED_HOSTS` (comma-separated; a leading dot allows subdomains; `*` allows any name).
 */
export function hostName(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(0, value.indexOf("]") + 1);
  const colon = value.lastIndexOf(":");
  return colon > 0 && value.indexOf(":") === colon ? value.slice(0, colon) : value;
}

const ipv4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

export function isAllowedHost(host: string | null, env: { HOST?: string; PROJECT_LLM_ALLOWED_HOSTS?: string }): boolean {
  // HTTP/1.1 requires the header; a client without one is not a browser led here by another site.
  if (!host) return true;
  const name = hostName(host);
  if (ipv4.test(name) || name.startsWith("[")) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (env.HOST && hostName(env.HOST) === name) return true;
  for (const entry of (env.PROJECT_LLM_ALLOWED_HOSTS ?? "").split(",").map((item) => item.trim().toLowerCase()).filter(Boolean)) {
    if (entry === "*" || entry === name) return true;
    if (entry.startsWith(".") && (name.endsWith(entry) || name === entry.slice(1))) return true;
  }
  return false;
}
