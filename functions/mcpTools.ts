import { app, type InvocationContext } from "@azure/functions";
import { diffTool, traceTool } from "../shared/api/traces";
import { DIFF_IMAGES_TOOL, markImageData, TRACE_IMAGES_TOOL } from "../shared/trace/api";
import { getRuntime } from "./runtime";

/** MCP tools answer with text; a failure is the error body as text, so the agent reads why. */
async function toolAnswer(
  run: () => Promise<{ status: number; body: unknown }>,
  context: InvocationContext,
): Promise<string> {
  const res = await run();
  if (res.status >= 500) context.error(`${context.functionName}: ${JSON.stringify(res.body)}`);
  return JSON.stringify(markImageData(res.body));
}

/** The samples read arguments from the trigger metadata; the first parameter carries them too in newer hosts. */
function argumentsOf(toolArguments: unknown, context: InvocationContext): unknown {
  const fromMetadata = (context.triggerMetadata as { mcptoolargs?: unknown } | undefined)?.mcptoolargs;
  if (fromMetadata !== undefined) return fromMetadata;
  return (toolArguments as { arguments?: unknown } | undefined)?.arguments ?? toolArguments;
}

export async function traceImagesTool(toolArguments: unknown, context: InvocationContext): Promise<string> {
  return toolAnswer(() => traceTool(getRuntime(), argumentsOf(toolArguments, context)), context);
}

export async function diffImagesTool(toolArguments: unknown, context: InvocationContext): Promise<string> {
  return toolAnswer(() => diffTool(getRuntime(), argumentsOf(toolArguments, context)), context);
}

app.mcpTool("traceImagesTool", { ...TRACE_IMAGES_TOOL, handler: traceImagesTool });
app.mcpTool("diffImagesTool", { ...DIFF_IMAGES_TOOL, handler: diffImagesTool });
