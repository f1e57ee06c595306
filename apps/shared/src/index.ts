export * from "./api";
export * from "./components";
export * from "./devices";
export * from "./events";
export * from "./money";
export * from "./session";
