export * from "./bulkDigests";
export * from "./catalog";
export * from "./copier";
export * from "./importer";
export * from "./locks";
export * from "./retention";
export * from "./sdk";
export * from "./settings";
