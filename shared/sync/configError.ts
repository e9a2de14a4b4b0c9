/** One problem in a config file, positioned so an editor or a CI log can jump to it. */
export interface ConfigIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** Key path such as `images[2].semver`; empty for problems with the document as a whole. */
  path: string;
  detail: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:`;
  return issue.path ? `${where} ${issue.path}: ${issue.detail}` : `${where} ${issue.detail}`;
}

/**
 * Every problem found in one pass, so a user fixes the file once instead of once per error. `file`, `line` and
 * `path` repeat the first issue for callers that only show one.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly path: string;
  readonly issues: readonly ConfigIssue[];

  constructor(found: readonly [ConfigIssue, ...ConfigIssue[]]) {
    // File order, whatever order the loader checked things in; the sort is stable for issues on one line.
    const issues = [...found].sort((a, b) => a.line - b.line);
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    const first = issues[0] ?? found[0];
    this.file = first.file;
    this.line = first.line;
    this.path = first.path;
    this.issues = issues;
  }
}
