import { sessionStoreConformance } from "./session-store.conformance.js";
import { MemorySessionStore } from "./memory-session-store.js";

sessionStoreConformance("MemorySessionStore", async () => ({ store: new MemorySessionStore(), cleanup: async () => undefined }));
