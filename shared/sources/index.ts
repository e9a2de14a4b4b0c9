export * from "./types";
export * from "./text";
export * from "./references";
export * from "./manifests";
export * from "./helmValues";
export * from "./fileSources";
export * from "./layeredConfig";
export * from "./syncEntries";
