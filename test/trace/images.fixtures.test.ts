import { beforeAll, describe, expect, it } from "vitest";
import { builtInServiceDefinition } from "../../shared/trace/definition";
import { extractImages } from "../../shared/trace/images";
import { loadMergedConfig, type MergedServiceConfig, resolveContext } from "../../shared/trace/service";
import { DirectoryConfigSource } from "../../shared/trace/source";
import { actualFor, expectedFor, FIXTURE_COMMITS, readOracle } from "./fixtures";

describe.each(FIXTURE_COMMITS)("fixture $commit", ({ dir, commit }) => {
  const oracle = readOracle(dir);
  let merged: MergedServiceConfig;

  beforeAll(async () => {
    merged = await loadMergedConfig(new DirectoryConfigSource(dir), await builtInServiceDefinition("aro-hcp"), commit);
  });

  it("the oracle is for this commit", () => {
    expect(oracle.commit).toBe(commit);
  });

  it("merges both files and finds the schema", () => {
    expect(merged.files).toEqual(["config/config.yaml", "config/config.msft.clouds-overlay.yaml"]);
    expect(merged.skippedFiles).toEqual([]);
    expect(merged.schemaFile).toBe("config/config.schema.json");
  });

  describe.each(Object.keys(oracle.environments))("%s", (context) => {
    const [cloud = "", environment = ""] = context.split("/");

    it("extracts exactly the oracle's image entries", () => {
      const config = resolveContext(merged, { cloud, environment });
      const images = extractImages(config.config, { schema: config.schema });
      const actual = actualFor(images);
      expect(images.length).toBe(Object.keys(actual).length); // no path reported twice
      expect(actual).toEqual(expectedFor(oracle, context));
    });

    it("finds the same entries by shape when there is no schema", () => {
      const config = resolveContext(merged, { cloud, environment });
      expect(extractImages(config.config)).toEqual(extractImages(config.config, { schema: config.schema }));
    });
  });
});

// Independent of the oracles: the public/prod values listed in shared/reference/aro-hcp.md §4.1.
describe("public/prod components per the reference notes", () => {
  const table: Record<string, Record<string, string>> = {
    "533d5604a3df6bb2f2d6dcfb25238a8bfd3b04e0": {
      "clustersService.image":
        "quay.io/app-sre/uhc-clusters-service@sha256:0dee01f6620847b53030ae716547953931769c362364e5de6e4e05991aac1168",
      "maestro.image":
        "quay.io/redhat-user-workloads/maestro-rhtap-tenant/maestro/maestro@sha256:00e0aa8746725c257b370bdd530ef961eb9b88f8c583d2c848b99264d073d5f3",
      "hypershift.image":
        "quay.io/acm-d/rhtap-hypershift-operator@sha256:caa1da4abd381492c07951575b8e64c6cce499252b697e3f6fade575803b2bcf",
      "backend.image":
        "arohcpsvcdev.azurecr.io/arohcpbackend@sha256:8e56e398aeecbddc4da9af94a94fefa6c0c08bcf3262ee0fbc62c635dfcb1425",
      "frontend.image":
        "arohcpsvcdev.azurecr.io/arohcpfrontend@sha256:9d63e3cfd5905ca8fe465d25b424508d8e6c3544d5d7db0e0fa2de1a65f4b691",
    },
    ac4c5173fe88673fe4c5450168db7150b1811014: {
      "clustersService.image":
        "quay.io/app-sre/uhc-clusters-service@sha256:aa0376a7826b62e47f542c49eeb1036753e40e0153836ca9725542125f4d21a0",
      "maestro.image":
        "quay.io/redhat-user-workloads/maestro-rhtap-tenant/maestro/maestro@sha256:90daeea3b4191e3f02d9900a1e7d9e296329b3ca99ea785907c55c39cde95f04",
      "hypershift.image":
        "quay.io/acm-d/rhtap-hypershift-operator@sha256:6e58c196dc6175a60146d6f4660bda181203a0e1054de09015cc67841238c99b",
      "backend.image":
        "arohcpsvcdev.azurecr.io/arohcpbackend@sha256:bad87c9fac8a83de86c05c9094296068d62d849df364c2927491a1ec9abf17aa",
      "frontend.image":
        "arohcpsvcdev.azurecr.io/arohcpfrontend@sha256:2d40f3eb66bf0fb8c696641b39aba2ed8105807df61c53778f6fb151567266c5",
    },
    "21f3f7a7d163a2dad380f101869dc97a35b004a2": {
      "clustersService.image":
        "quay.io/app-sre/aro-hcp-clusters-service@sha256:a1046d7b1b2042b9b109b9c433521662f9c3280fa1a3a66f82e499ba2e9fc433",
      "maestro.image":
        "quay.io/redhat-user-workloads/maestro-rhtap-tenant/maestro/maestro@sha256:d715a7d31a57d47ed9a730e2b1d8df5586d4ee3acdeb4d45848179a6c9ffae76",
      "hypershift.image":
        "quay.io/redhat-services-prod/crt-redhat-acm-tenant/hypershift/hypershift-operator@sha256:949f82ae8cafb3e5d81b8701fdd837befa3f500dc65b02b3e29ed9b52d42b1c6",
      "backend.image":
        "arohcpsvcdev.azurecr.io/arohcpbackend@sha256:13b16599a6f6c1cc697f459da35f74c3b3ec528d299162bb3ff8a55cb58ff2d7",
      "frontend.image":
        "arohcpsvcdev.azurecr.io/arohcpfrontend@sha256:8afb9690f523bcb9c7029fc9f2eef824445bcc9ec1234d2cb1c2fcb0e0208e5d",
    },
  };

  it.each(Object.entries(table))("%s", async (commit, expected) => {
    const fixture = FIXTURE_COMMITS.find((f) => f.commit === commit);
    const merged = await loadMergedConfig(
      new DirectoryConfigSource(fixture?.dir ?? ""),
      await builtInServiceDefinition("aro-hcp"),
      commit,
    );
    const prod = resolveContext(merged, { environment: "prod" });
    const references = Object.fromEntries(
      extractImages(prod.config, { schema: prod.schema })
        .filter((e) => e.path in expected)
        .map((e) => [e.path, e.reference]),
    );
    expect(references).toEqual(expected);
  });
});
