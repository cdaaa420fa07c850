import { describe, expect, it } from "vitest";
import { discoverSources, planFleet } from "../../src/plan/index.js";
import { rolloutSpecOf } from "../../src/rollout/index.js";
import { countingRender, REFERENCE, treeFrom } from "../plan/support.js";

const isFluxObjectFile = (p: string) =>
  p.startsWith("providers/aws/v1/mgmt/namespaced/") && /(gitrepositories|kustomizations)\.yaml$/.test(p);
const CONFIG = `sources:
  release: { tag: v0.0.3 }
rollouts:
  prod:
    waves:
      - { name: canary, clusters: { matchLabels: { ring: canary } }, soak: 10m }
      - { name: rest, maxConcurrent: 25% }
    onFailure: rollback
windows:
  - { kind: allow, schedule: "0 22 * * 1-4", duration: 4h, timeZone: Europe/Berlin }
`;

describe("plan: flotilla.yaml rollouts become Rollout objects", () => {
  it("plans one Rollout per environment over its source and its units' environment label, windows included", () => {
    const tree = treeFrom(REFERENCE, { drop: isFluxObjectFile, extra: { "flotilla.yaml": CONFIG } });
    const { render } = countingRender();
    const plan = planFleet(
      discoverSources(tree, { render, repoUrl: "https://example.com/platform" }),
      { main: tree, release: tree },
      { render },
    );
    expect(plan.rollouts).toHaveLength(1);
    const r = plan.rollouts[0]!;
    expect(r.metadata).toMatchObject({ name: "prod", namespace: "flux-system" });
    expect(r.spec.sourceRef).toEqual({ kind: "GitRepository", name: "release", namespace: "flux-system" });
    expect(r.spec.selector).toEqual({ matchLabels: { "flotilla.dev/environment": "prod" } });
    const parsed = rolloutSpecOf(r);
    expect(parsed.spec.onFailure).toBe("rollback");
    expect(parsed.windows.map((w) => w.schedule.expression)).toEqual(["0 22 * * 1-4"]);
    // The prod units carry the label the selector matches.
    const prodUnits = plan.objects.filter(
      (o) => o.kind === "Kustomization" && o.metadata.labels?.["flotilla.dev/environment"] === "prod",
    );
    expect(prodUnits.length).toBeGreaterThan(0);
    expect(
      prodUnits.every((k) => (k as { spec: { sourceRef: { name: string } } }).spec.sourceRef.name === "release"),
    ).toBe(true);
  });

  it("plans none without rollouts, and none in Flux mode (the repository writes its own)", () => {
    const { render } = countingRender();
    const plain = treeFrom(REFERENCE, {
      drop: isFluxObjectFile,
      extra: { "flotilla.yaml": "sources: { release: { tag: v0.0.3 } }\n" },
    });
    expect(
      planFleet(
        discoverSources(plain, { render, repoUrl: "https://example.com/platform" }),
        { main: plain, release: plain },
        { render },
      ).rollouts,
    ).toEqual([]);
    const flux = treeFrom(REFERENCE, { extra: { "flotilla.yaml": CONFIG } });
    expect(
      planFleet(
        discoverSources(flux, { render, repoUrl: "https://example.com/platform" }),
        { main: flux, release: flux },
        { render },
      ).rollouts,
    ).toEqual([]);
  });
});
