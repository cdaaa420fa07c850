import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes a kustomization of about `objects` objects, shaped like the measurement: a base of
 * Deployments that reference ConfigMaps and ServiceAccounts (plus Services), and an overlay with a
 * name prefix, labels with selectors, an image override and a strategic merge patch on every
 * Deployment. Returns the overlay folder.
 */
export function generateOverlay(root: string, objects: number): string {
  const groups = Math.max(1, Math.round(objects / 4));
  const base = join(root, "base");
  const overlay = join(root, "overlay");
  mkdirSync(base, { recursive: true });
  mkdirSync(overlay, { recursive: true });
  const docs: string[] = [];
  for (let i = 0; i < groups; i++) {
    const n = `app-${i}`;
    docs.push(`apiVersion: v1
kind: ConfigMap
metadata:
  name: ${n}-config
data:
  LOG_LEVEL: info
  INDEX: "${i}"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${n}
---
apiVersion: v1
kind: Service
metadata:
  name: ${n}
spec:
  selector:
    app: ${n}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${n}
  labels:
    app: ${n}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${n}
  template:
    metadata:
      labels:
        app: ${n}
    spec:
      serviceAccountName: ${n}
      containers:
      - name: app
        image: nginx:1.25
        envFrom:
        - configMapRef:
            name: ${n}-config
        volumeMounts:
        - name: config
          mountPath: /etc/app
      volumes:
      - name: config
        configMap:
          name: ${n}-config`);
  }
  writeFileSync(join(base, "resources.yaml"), `${docs.join("\n---\n")}\n`);
  writeFileSync(join(base, "kustomization.yaml"), "resources:\n- resources.yaml\n");
  writeFileSync(
    join(overlay, "kustomization.yaml"),
    `resources:
- ../base
namePrefix: prod-
commonLabels:
  env: prod
  team: platform
images:
- name: nginx
  newName: registry.example.com/nginx
  newTag: "1.27"
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: app
            resources:
              limits:
                memory: 256Mi
`,
  );
  return overlay;
}
