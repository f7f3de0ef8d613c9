// Bench-only Worker: runs the project's session codec inside workerd, N times per request,
// so CPU time can be measured from outside (workerd freezes Date.now()/performance.now()
// while JavaScript runs, so the worker cannot time itself).
//
//   GET /seal?n=N   seal the reference record N times
//   GET /open?n=N   open a sealed copy of it N times (sealed once per isolate, outside the loop)
//   GET /size       one sealed envelope's length, as sealed here
//
// Bindings: SECRET (session secret), RECORD (the record as JSON), SESSION_ID.
import { open, seal } from "../src/session/codec.js";
import { KeyRing } from "../src/session/keyring.js";

interface Env {
  SECRET: string;
  RECORD: string;
  SESSION_ID: string;
}

let keyring: KeyRing | undefined;
let sealed: { envelope: string; storeKey: string } | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const n = Math.max(0, Math.min(100_000, Number(url.searchParams.get("n") ?? "0") | 0));
    keyring ??= await KeyRing.create([env.SECRET]);
    const ctx = { keyring, sessionId: env.SESSION_ID };
    const record: unknown = JSON.parse(env.RECORD);
    sealed ??= await seal(record, ctx);
    if (url.pathname === "/size") {
      return Response.json({ envelopeLength: sealed.envelope.length });
    }
    if (url.pathname === "/seal") {
      let length = 0;
      for (let i = 0; i < n; i++) length = (await seal(record, ctx)).envelope.length;
      return Response.json({ n, length });
    }
    if (url.pathname === "/open") {
      let ok = 0;
      for (let i = 0; i < n; i++) if ((await open(sealed.envelope, sealed.storeKey, ctx)).ok) ok++;
      if (ok !== n) return Response.json({ n, ok }, { status: 500 });
      return Response.json({ n, ok });
    }
    return new Response("not found", { status: 404 });
  },
};
