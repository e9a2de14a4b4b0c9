/**
 * Links into a component's source repository: the tree at a commit and the comparison of two commits. Only the two
 * URL schemes we know are produced (GitHub's and GitLab's); for any other host the repository URL is still reported,
 * but no link is guessed.
 */

export type Forge = "github" | "gitlab";

const MAX_URL = 400;

/**
 * A repository URL as labels and catalogues write it (`https://github.com/a/b.git`, `git@github.com:a/b`,
 * `git+https://…`, with or without a trailing slash) turned into its web form, `https://host/a/b`. Anything that is
 * not an http(s) repository path (or carries user info, a query or a fragment) gives null: the value ends up in
 * responses and links, so it is taken only when it is plainly a web address.
 */
export function normaliseRepoUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  let text = value.trim();
  if (text.length === 0 || text.length > MAX_URL || /\s/.test(text)) return null;
  const scp = /^git@([A-Za-z0-9.-]+):(.+)$/.exec(text);
  if (scp) text = `https://${scp[1]}/${scp[2]}`;
  text = text.replace(/^git\+/, "");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password || url.search || url.hash) return null;
  const path = url.pathname.replace(/\/+$/, "").replace(/\.git$/, "");
  if (!/^(\/[A-Za-z0-9._~-]+){2,}$/.test(path)) return null;
  return `${url.protocol}//${url.host}${path}`;
}

/** GitHub and GitLab by host name (github.com, GitHub Enterprise hosts named github.*, gitlab.com, gitlab.*). */
export function forgeOf(repoUrl: string): Forge | null {
  let host: string;
  try {
    host = new URL(repoUrl).hostname.toLowerCase();
  } catch {
    return null;
  }
  if (host === "github.com" || host.startsWith("github.")) return "github";
  if (host === "gitlab.com" || host.startsWith("gitlab.") || host.includes(".gitlab.")) return "gitlab";
  return null;
}

/** `<repo>/tree/<sha>` (GitHub) or `<repo>/-/tree/<sha>` (GitLab); null for other hosts or a missing commit. */
export function treeUrl(repoUrl: string | null, commit: string | null): string | null {
  if (!repoUrl || !commit) return null;
  const forge = forgeOf(repoUrl);
  if (!forge) return null;
  return `${repoUrl}${forge === "gitlab" ? "/-" : ""}/tree/${encodeURIComponent(commit)}`;
}

/** `<repo>/compare/<a>...<b>` (GitHub) or `<repo>/-/compare/<a>...<b>` (GitLab). */
export function compareUrl(repoUrl: string | null, from: string | null, to: string | null): string | null {
  if (!repoUrl || !from || !to || from === to) return null;
  const forge = forgeOf(repoUrl);
  if (!forge) return null;
  return `${repoUrl}${forge === "gitlab" ? "/-" : ""}/compare/${encodeURIComponent(from)}...${encodeURIComponent(to)}`;
}
