// SPDX-License-Identifier: MIT
//
// Addresses as Node spells them. A family may be 4, 6, 'ipv4', 'ipv6', 'IPv4' or 'IPv6' wherever
// one is taken, and may be left out: it is inferred from the address text (net.isIP), so
// Node's `server.address()` (an AddressInfo) can be passed as it is.

import { isIP } from 'node:net';
import { invalidArgType, invalidArgValue } from './errors.js';
import { normalizeFamily, type AddressFamily, type WskAddress } from './protocol.js';

/** The spellings of a family the library takes (Node uses all of them somewhere). */
export type FamilyLike = AddressFamily | 'IPv4' | 'IPv6' | 4 | 6;

/**
 * An address as a caller may give it: a `WskAddress`, Node's `AddressInfo` (`server.address()`),
 * or `{ address, port }` with the family inferred from the text.
 */
export interface AddressLike {
  address: string;
  port: number;
  family?: FamilyLike | string | number;
  flowInfo?: number;
  scopeId?: number;
}

/** 'ipv4' for 4, 'ipv4', 'IPv4'; 'ipv6' for 6, 'ipv6', 'IPv6'; undefined for anything else. */
export function familyOf(family: unknown): AddressFamily | undefined {
  try {
    return normalizeFamily(family);
  } catch {
    return undefined;
  }
}

/**
 * Normalizes an AddressLike into a WskAddress: the family is checked against the address text
 * (an explicit family that contradicts it is refused rather than sent to WSK).
 */
export function toWskAddress(input: unknown, name = 'address'): WskAddress {
  if (input === null || typeof input !== 'object') throw invalidArgType(name, "an object { address, port } (a WskAddress or Node's AddressInfo)", input);
  const a = input as AddressLike;
  if (typeof a.address !== 'string') throw invalidArgType(`${name}.address`, 'a string', a.address);
  const version = isIP(a.address);
  const inferred: AddressFamily | undefined = version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
  if (a.family !== undefined) {
    const given = familyOf(a.family);
    if (given === undefined) throw invalidArgValue(`${name}.family`, a.family, "must be 4, 6, 'ipv4', 'ipv6', 'IPv4' or 'IPv6'");
    if (inferred !== undefined && inferred !== given) {
      throw invalidArgValue(`${name}.family`, a.family, `contradicts the address ${JSON.stringify(a.address)}, which is ${inferred}`);
    }
  }
  const family = familyOf(a.family) ?? inferred;
  if (family === undefined) throw invalidArgValue(`${name}.address`, a.address, 'must be an IPv4 or IPv6 address (no host names, no zone: give scopeId)');
  const out: WskAddress = { family, address: a.address, port: a.port };
  if (a.flowInfo !== undefined) out.flowInfo = a.flowInfo;
  if (a.scopeId !== undefined) out.scopeId = a.scopeId;
  return out;
}
