/**
 * The entry point the host loads (`main` in package.json). Every function file is imported here explicitly, and
 * nothing reads settings at import time, so a bad setting can never make the host find no functions.
 */
import { app } from "@azure/functions";
import "./syncImages";
import "./copyImage";
import "./mcpTools";
import { registerRoutes } from "./http";

app.setup({ enableHttpStream: false });
registerRoutes();
