'use strict';
// Writes the seed corpus of the IOCTL fuzzer: short, valid sessions that reach deep states
// (sockets created, bound, listening, connected, events read), which the fuzzer then mutates.
// Encoding: see ioctl_fuzz.c.
const fs = require('fs');
const path = require('path');

const IOCTL = ['HELLO', 'CONTROL_CLIENT', 'SOCKET_CREATE', 'BIND', 'CONNECT', 'ACCEPT', 'SEND', 'RECEIVE',
  'SEND_TO', 'RECEIVE_FROM', 'DISCONNECT', 'GET_ADDRESS', 'CONTROL_SOCKET', 'CLOSE', 'READ_EVENTS',
  'INSPECT_COMPLETE', 'STATS'];
const op = (name, input, outLength = 0, useId = false) => {
  const head = Buffer.alloc(7);
  head[0] = 0;
  head[1] = IOCTL.indexOf(name);
  head.writeUInt16LE(input.length, 2);
  head.writeUInt16LE(outLength, 4);
  head[6] = useId ? 0x80 : 0;
  return Buffer.concat([head, input]);
};
const u32 = (...v) => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i)); return b; };
const u16 = (...v) => { const b = Buffer.alloc(2 * v.length); v.forEach((x, i) => b.writeUInt16LE(x, 2 * i)); return b; };
const id = Buffer.alloc(8); // replaced by a known id (useId)
const sockaddr = (family, port) => Buffer.concat([u16(family, port), Buffer.alloc(28)]);
// Network events and schedule choices (ioctl_fuzz.c ops 8-15).
const peerConnect = (selector) => Buffer.from([8, selector]);
const peerSend = (peer, text) => Buffer.concat([Buffer.from([9, peer, text.length]), Buffer.from(text)]);
const peerFin = (peer) => Buffer.from([10, peer]);
const peerDatagram = (selector, text) => Buffer.concat([Buffer.from([12, selector, text.length]), Buffer.from(text)]);
const peerAccept = Buffer.from([13]);
const runIdle = Buffer.from([14]);
const onThread = Buffer.from([15]);
const hello = op('HELLO', u32(0x424B5357, 1, 65536, 0), 24);
const create = (family, type, proto, kind) => op('SOCKET_CREATE', Buffer.concat([u16(family, type), u32(proto, kind, 0)]), 8);
const addressIn = (name, family, port) => op(name, Buffer.concat([id, sockaddr(family, port), u32(0, 0)]), 0, true);
const controlSocket = (type, code, level, input) =>
  op('CONTROL_SOCKET', Buffer.concat([id, u32(type, code, level, input.length, 16, 1), input]), 32, true);

const seeds = {
  'listen-events': [hello, create(2, 1, 6, 1), addressIn('BIND', 2, 0), controlSocket(0, 0x4002, 0xffff, u32(0x200)),
    op('READ_EVENTS', Buffer.alloc(0), 0xF000 | 205), op('STATS', Buffer.alloc(0), 88)],
  'connection-connect': [hello, create(2, 1, 6, 2), addressIn('BIND', 2, 0), addressIn('CONNECT', 2, 9),
    op('SEND', Buffer.concat([id, u32(0, 5), Buffer.from('hello')]), 8, true)],
  'datagram-loop': [hello, create(23, 2, 17, 4), addressIn('BIND', 23, 0),
    op('GET_ADDRESS', Buffer.concat([id, u32(0, 0)]), 32, true),
    op('RECEIVE_FROM', Buffer.concat([id, u32(0, 512)]), 600, true), op('CLOSE', id, 0, true)],
  'static-events': [hello, op('CONTROL_CLIENT', Buffer.concat([u32(7, 4, 0, 0), u32(0x140)]), 16),
    create(2, 2, 17, 4), addressIn('BIND', 2, 0)],
  'conditional-accept': [hello, create(2, 1, 6, 1), controlSocket(0, 0x3002, 0xffff, u32(1)), addressIn('BIND', 2, 0),
    op('INSPECT_COMPLETE', Buffer.concat([id, Buffer.alloc(8), u32(1, 0)]), 0, true)],
  'malformed': [op('SEND', Buffer.alloc(3)), hello, op('BIND', Buffer.alloc(47)), op('CLOSE', Buffer.alloc(8))],
  // Network events: a peer connects to our listener on port 0 of the range (BIND port 8 maps to
  // FUZZ_PORT_BASE + 0), sends, finishes; events read while it happens.
  'peer-connects': [hello, create(2, 1, 6, 1), addressIn('BIND', 2, 8), controlSocket(0, 0x4002, 0xffff, u32(0x200 | 0x40 | 0x80)),
    op('READ_EVENTS', Buffer.alloc(0), 0xF000 | 205), peerConnect(0), peerSend(0, 'hello'), peerFin(0), runIdle,
    op('READ_EVENTS', Buffer.alloc(0), 0xF000 | 205)],
  // Our connection socket connects to the peer listener (port 4 of the range), a concurrent close.
  'connect-peer': [hello, create(2, 1, 6, 2), addressIn('BIND', 2, 0), addressIn('CONNECT', 2, 4), peerAccept,
    onThread, op('CLOSE', id, 0, true), op('RECEIVE', Buffer.concat([id, u32(0, 64)]), 64, true), peerSend(4, 'late')],
  // Datagrams both ways with the UDP peers (ports 6 and 7 of the range).
  'datagram-peer': [hello, create(2, 2, 17, 4), addressIn('BIND', 2, 9), controlSocket(0, 0x4002, 0xffff, u32(0x100)),
    peerDatagram(2, 'to us'), op('READ_EVENTS', Buffer.alloc(0), 0xF000 | 205),
    op('SEND_TO', Buffer.concat([id, sockaddr(2, 6), u32(0, 3), Buffer.from('abc')]), 8, true)],
};
const dir = process.argv[2] ?? path.join(__dirname, 'corpus');
fs.mkdirSync(dir, { recursive: true });
// Each input starts with the scheduler's seed (8 bytes): the schedule choices.
let seed = 1n;
for (const [name, ops] of Object.entries(seeds)) {
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(seed++);
  fs.writeFileSync(path.join(dir, name), Buffer.concat([head, ...ops]));
}
console.log(`wrote ${Object.keys(seeds).length} seeds to ${dir}`);
