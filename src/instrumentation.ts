/**
 * Next.js calls this once when the server starts: access control says how it stands (the first admin's
 * login address, or a warning), and the studio comes up (and marks sessions left running) before the
 * first request.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    // Before the first request: every request learns its client's address (per-client stream caps).
    const { stampPeerAddresses } = await import("./server/client-address");
    stampPeerAddresses();
    const { getAccessControl } = await import("./server/auth/index");
    await getAccessControl().announce(process.env.PORT ?? "3000");
    const { getServer } = await import("./server/instance");
    await getServer();
  }
}
