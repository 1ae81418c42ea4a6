import { describe, expect, it } from "vitest";
import { hostName, isAllowedHost } from "./allowed-hosts.js";

describe("isAllowedHost", () => {
  it("takes the name out of a Host header", () => {
    expect(hostName("LocalHost:3000")).toBe("localhost");
    expect(hostName("[::1]:3000")).toBe("[::1]");
    expect(hostName("gpu-box.lan")).toBe("gpu-box.lan");
  });

  it("allows IP addresses, localhost and the host the studio listens on", () => {
    for (const host of ["127.0.0.1:3000", "192.168.1.20:3000", "[::1]:3000", "localhost:3000", "app.localhost", null]) {
      expect(isAllowedHost(host, {}), String(host)).toBe(true);
    }
    expect(isAllowedHost("studio.example:3000", { HOST: "studio.example" })).toBe(true);
  });

  it("refuses any other name (a DNS-rebinding page), unless it is allowed", () => {
    expect(isAllowedHost("attacker.example:3000", {})).toBe(false);
    expect(isAllowedHost("attacker.example:3000", { HOST: "0.0.0.0" })).toBe(false);
    expect(isAllowedHost("gpu-box.lan:3000", { PROJECT_LLM_ALLOWED_HOSTS: "other, gpu-box.lan" })).toBe(true);
    expect(isAllowedHost("studio.gpu.lan", { PROJECT_LLM_ALLOWED_HOSTS: ".gpu.lan" })).toBe(true);
    expect(isAllowedHost("gpu.lan.attacker.example", { PROJECT_LLM_ALLOWED_HOSTS: ".gpu.lan" })).toBe(false);
    expect(isAllowedHost("anything.example", { PROJECT_LLM_ALLOWED_HOSTS: "*" })).toBe(true);
  });
});
