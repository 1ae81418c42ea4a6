/** Test servers on loopback: a free port, and a close that does not wait for the clients' open connections. */
import type http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { ProjectLlmError } from "../common/index.js";

/** Listens on a free port of 127.0.0.1; `close` ends every open connection first (a stream a client still reads). */
export async function listenOnLoopback(server: http.Server): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The error a promise rejects with, as our error class (fails the test when it resolves, or rejects with another). */
export async function projectError(promise: Promise<unknown>): Promise<ProjectLlmError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!ProjectLlmError.isInstance(error)) throw new Error(`expected a ProjectLlmError, got ${String(error)}`);
  return error;
}
