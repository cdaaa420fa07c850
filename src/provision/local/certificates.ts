import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The PKI of one local control plane: a CA, the apiserver's serving certificate, the service-account key pair, an admin token. */
export interface ControlPlanePki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  tokenFile: string;
  adminToken: string;
}

/** Generates (with the openssl CLI) the certificates and keys a kube-apiserver needs, in `dir`. */
export function generatePki(dir: string, name: string): ControlPlanePki {
  mkdirSync(dir, { recursive: true });
  const path = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.crt"),
    "-days",
    "3650",
    "-subj",
    `/CN=flotilla-local-ca-${name}`,
  );
  writeFileSync(
    path("serving.cnf"),
    [
      "[req]",
      "distinguished_name=dn",
      "[dn]",
      "[ext]",
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
      "extendedKeyUsage=serverAuth,clientAuth",
      "",
    ].join("\n"),
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    path("serving.key"),
    "-out",
    path("serving.csr"),
    "-subj",
    "/CN=kube-apiserver",
    "-config",
    path("serving.cnf"),
  );
  openssl(
    "x509",
    "-req",
    "-in",
    path("serving.csr"),
    "-CA",
    path("ca.crt"),
    "-CAkey",
    path("ca.key"),
    "-CAcreateserial",
    "-out",
    path("serving.crt"),
    "-days",
    "3650",
    "-extfile",
    path("serving.cnf"),
    "-extensions",
    "ext",
  );
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  writeFileSync(path("sa.key"), privateKey);
  writeFileSync(path("sa.pub"), publicKey);
  const adminToken = randomBytes(24).toString("hex");
  writeFileSync(path("tokens.csv"), `${adminToken},flotilla-admin,flotilla-admin,"system:masters"\n`, { mode: 0o600 });
  return {
    dir,
    caCert: readFileSync(path("ca.crt"), "utf8"),
    caKey: path("ca.key"),
    servingCert: path("serving.crt"),
    servingKey: path("serving.key"),
    serviceAccountKey: path("sa.key"),
    serviceAccountPub: path("sa.pub"),
    tokenFile: path("tokens.csv"),
    adminToken,
  };
}

/** A kubeconfig for the admin token, with the CA embedded; the context is named `name`. */
export function kubeconfigFor(name: string, server: string, caCert: string, token: string): string {
  const ca = Buffer.from(caCert).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: ${name}-admin
  user:
    token: ${token}
contexts:
- name: ${name}
  context:
    cluster: ${name}
    user: ${name}-admin
current-context: ${name}
`;
}
