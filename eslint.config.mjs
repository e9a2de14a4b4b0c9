import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "@azure/functions", message: "Only functions/ may import @azure/functions." }] },
      ],
    },
  },
  {
    files: ["functions/**/*.ts", "test/functions/**/*.ts", "test/security/**/*.ts"],
    rules: { "no-restricted-imports": "off" },
  },
);
