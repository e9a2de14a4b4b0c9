export * from "./auth";
export * from "./client";
export * from "./copy";
export * from "./manifest";
export * from "./reference";
export * from "./transport";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry";
export { DigestMismatchError, SizeMismatchError } from "./digest";
export * from "./platforms";
