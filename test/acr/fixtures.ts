// Shared by the ACR tests: a test Entra credential, fast retries, and seeding helpers.
import type { TokenCredential } from "@azure/identity";
import {
  buildImage,
  buildIndex,
  pushBlob,
  pushImage,
  pushIndex,
  randomLayer,
  type BuiltImage,
} from "../harness/images";

export const FAST_RETRY = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 };

/** A TokenCredential that counts its calls; its token is a fixed test value, never a real one. */
export function testCredential(token = "aad-test-token"): TokenCredential & { calls: number } {
  const cred = {
    calls: 0,
    async getToken() {
      cred.calls++;
      return { token, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
  return cred;
}

const shared = randomLayer(512);

/** A small image whose digest differs by `label`; every one shares one layer, so seeding stays cheap. */
export function smallImage(label: string): BuiltImage {
  return buildImage({ layers: [shared], labels: { label } });
}

/** Pushes `count` distinct images tagged `<prefix>000`, `<prefix>001`, ...; returns tag → digest. */
export async function seedTags(host: string, repo: string, count: number, prefix = "t"): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // The shared layer first: parallel uploads of one blob into one repository race in distribution.
  await pushBlob(host, repo, shared);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const i = next++;
        const tag = `${prefix}${String(i).padStart(3, "0")}`;
        const image = smallImage(`${repo}-${tag}`);
        await pushImage(host, repo, image, tag);
        out.set(tag, image.digest);
      }
    }),
  );
  return out;
}

/** A two-platform index, tagged. */
export async function seedIndex(host: string, repo: string, tag: string, children = 2) {
  const images = Array.from({ length: children }, (_, i) =>
    buildImage({
      layers: [shared],
      labels: { i: String(i), repo },
      platform: { os: "linux", architecture: `arch${i}` },
    }),
  );
  const index = buildIndex(images);
  await pushIndex(host, repo, index, tag);
  return index;
}
