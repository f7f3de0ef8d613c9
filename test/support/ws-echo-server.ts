import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A minimal WebSocket echo server on 127.0.0.1 (RFC 6455 by hand: node:http `upgrade`,
 * the accept key, and frame parsing), so tests need no WebSocket package. It echoes text
 * and binary messages, answers pings, closes when asked, and records every upgrade
 * request's head and every message it received.
 */
export interface WsEchoServer {
  /** `http://127.0.0.1:<port>` (a destination URL; `ws:` works too). */
  url: string;
  /** Heads of the upgrade requests received. */
  upgrades: { url: string; headers: IncomingHttpHeaders }[];
  /** Plain (non-upgrade) HTTP requests received. */
  plainRequests: number;
  /** Messages received from clients, text as strings, binary as Buffers. */
  received: (string | Buffer)[];
  close(): Promise<void>;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export async function startWsEchoServer(): Promise<WsEchoServer> {
  const sockets = new Set<Socket>();
  const state: WsEchoServer = {
    url: "",
    upgrades: [],
    plainRequests: 0,
    received: [],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((_req, res) => {
    state.plainRequests++;
    res.writeHead(426, { "content-type": "text/plain" }).end("upgrade required");
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (req, socket: Socket, head: Buffer) => {
    state.upgrades.push({ url: req.url ?? "", headers: req.headers });
    const key = req.headers["sec-websocket-key"];
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket" || typeof key !== "string") {
      socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const accept = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    let buffer: Buffer = head;
    let fragments: Buffer[] = [];
    let fragmentOpcode = 0;
    const onData = (data: Buffer) => {
      buffer = buffer.length === 0 ? data : Buffer.concat([buffer, data]);
      for (;;) {
        const frame = parseFrame(buffer);
        if (frame === null) return;
        buffer = buffer.subarray(frame.size);
        if (frame.opcode === 0x8) {
          socket.end(encodeFrame(0x8, frame.payload.subarray(0, 2)));
          return;
        }
        if (frame.opcode === 0x9) {
          socket.write(encodeFrame(0xa, frame.payload));
          continue;
        }
        if (frame.opcode === 0xa) continue;
        if (frame.opcode !== 0x0) fragmentOpcode = frame.opcode;
        fragments.push(frame.payload);
        if (!frame.fin) continue;
        const message = Buffer.concat(fragments);
        fragments = [];
        state.received.push(fragmentOpcode === 0x1 ? message.toString("utf8") : message);
        socket.write(encodeFrame(fragmentOpcode, message));
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    if (head.length > 0) onData(Buffer.alloc(0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** Bytes the frame took in the buffer. */
  size: number;
}

/** One complete frame at the start of `buffer` (client frames are masked), or null if incomplete. */
function parseFrame(buffer: Buffer): Frame | null {
  if (buffer.length < 2) return null;
  const fin = (buffer[0]! & 0x80) !== 0;
  const opcode = buffer[0]! & 0x0f;
  const masked = (buffer[1]! & 0x80) !== 0;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  const maskAt = offset;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return null;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ buffer[maskAt + (i % 4)]!;
  return { fin, opcode, payload, size: offset + length };
}

/** An unmasked (server) frame with FIN set. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([0x80 | opcode, length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}
