// Client certificates for X.509 bindings (`certificate`, `key`): a self-signed pair made by
// the openssl command line, since Node's crypto cannot issue certificates.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/** @param {string} commonName @returns {Promise<{ certificate: string, key: string }>} */
export async function selfSignedCertificate(commonName) {
  const dir = await mkdtemp(join(tmpdir(), "sim-x509-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  try {
    const subject = `/CN=${commonName.replace(/[/=\\]/g, "_")}`;
    await promisify(execFile)("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      subject,
    ]);
    return { certificate: await readFile(certPath, "utf8"), key: await readFile(keyPath, "utf8") };
  } catch (e) {
    throw new Error(
      `X.509 binding: openssl could not make a certificate (${e instanceof Error ? e.message.split("\n")[0] : e})`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
