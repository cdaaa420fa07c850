// The project's one linter configuration (run with `npm run lint`; `npm run test:ci` runs it).
// It lives under .ci/ because the repository's top level has a fixed shape; paths are relative
// to the working directory, which npm sets to the repository root.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "**/fixtures/**", "test/render/kustomize-spec/cases/**", ".ci/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: process.cwd() } },
    rules: {
      // A promise nobody awaits loses its error; these are the bugs a type-aware linter catches best.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      // A callback may read a variable the code assigns once, after the callback exists.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: {
      globals: { console: "readonly", process: "readonly", URL: "readonly", structuredClone: "readonly" },
    },
  },
);
