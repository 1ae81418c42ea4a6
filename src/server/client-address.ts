/**
 * The address of the client at the other end of a request's connection, as the server's socket saw it.
 *
 * A route handler of Next.js gets a `Request`, which has no socket, and the `X-Forwarded-For` that Next.js
 * adds keeps whatever the client sent in its place, so a client could name itself anew for every stream.
 * The server's own `request` event is the one place where the socket and the headers meet: there a header
 * of ours is set from the socket, over anything the client sent under that name.
 */
import http from "node:http";

export const peerHeader = "x-project-llm-peer";

const installedKey = Symbol.for("project-llm.peer-header");

/** Stamps every request this process's HTTP servers receive with its peer's address. Once per process. */
export function stampPeerAddresses(): void {
  const holder = globalThis as { [installedKey]?: boolean };
  if (holder[installedKey]) return;
  holder[installedKey] = true;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "request") {
      const request = args[0] as http.IncomingMessage;
      request.headers[peerHeader] = request.socket?.remoteAddress ?? "unknown";
    }
    return (emit as (this: http.Server, event: string | symbol, ...rest: unknown[]) => boolean).call(this, event, ...args);
  } as typeof emit;
}

/** The client's address of a request stamped by `stampPeerAddresses` ("unknown" when it was not). */
export function clientAddress(request: Request): string {
  return request.headers.get(peerHeader)?.slice(0, 64) ?? "unknown";
}
