/**
 * Identity addresses (design §1): `mayor`, `deacon`, `human`, `<rig>/witness`,
 * `<rig>/refinery`, `<rig>/crew/<name>`, `<rig>/polecats/<name>`. Every ledger
 * write, mail and commit carries one.
 */
import { validationError } from '../../shared/errors.js';

export type Role = 'mayor' | 'deacon' | 'human' | 'witness' | 'refinery' | 'crew' | 'polecat';

export interface Identity {
  address: string;
  role: Role;
  rig?: string;
  name?: string;
}

/** Rig and agent names: they become directory, branch, tmux and ID parts. */
export const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;
const RESERVED = new Set(['mayor', 'deacon', 'human', 'hq', 'gt', 'bin', 'runs', 'logs', 'settings', 'all']);

export function validateName(kind: 'rig' | 'agent' | 'crew', name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw validationError(
      `invalid ${kind} name ${JSON.stringify(name)}`,
      'a name starts with a lowercase letter and has only lowercase letters, digits, - and _ (at most 40 characters)',
    );
  }
  if (kind === 'rig' && RESERVED.has(name)) throw validationError(`${JSON.stringify(name)} is reserved and cannot name a rig`, 'choose another rig name');
  return name;
}

export function parseIdentity(text: string): Identity {
  const address = text.trim().replace(/\/+$/, '');
  if (address === 'mayor' || address === 'deacon' || address === 'human') return { address, role: address };
  const parts = address.split('/');
  const [rig, kind, name] = parts;
  if (rig !== undefined && NAME_PATTERN.test(rig)) {
    if (parts.length === 2 && (kind === 'witness' || kind === 'refinery')) return { address, role: kind, rig };
    if (parts.length === 3 && name !== undefined && NAME_PATTERN.test(name)) {
      if (kind === 'polecats') return { address, role: 'polecat', rig, name };
      if (kind === 'crew') return { address, role: 'crew', rig, name };
    }
  }
  throw validationError(
    `invalid agent address ${JSON.stringify(text)}`,
    'use mayor, deacon, human, <rig>/witness, <rig>/refinery, <rig>/crew/<name> or <rig>/polecats/<name>',
  );
}

export function polecatIdentity(rig: string, name: string): Identity {
  return { address: `${rig}/polecats/${name}`, role: 'polecat', rig, name };
}

export function crewIdentity(rig: string, name: string): Identity {
  return { address: `${rig}/crew/${name}`, role: 'crew', rig, name };
}

/** The agent bead that records an identity: `hq-mayor`, `hq-<rig>-polecat-<name>`. */
export function agentBeadId(identity: Identity): string {
  switch (identity.role) {
    case 'polecat':
    case 'crew':
      return `hq-${identity.rig}-${identity.role}-${identity.name}`;
    case 'witness':
    case 'refinery':
      return `hq-${identity.rig}-${identity.role}`;
    default:
      return `hq-${identity.role}`;
  }
}

/** tmux session / headless run name; `[a-z0-9_-]` only, so it is safe everywhere. */
export function sessionName(identity: Identity): string {
  switch (identity.role) {
    case 'polecat':
      return `gt-${identity.rig}-${identity.name}`;
    case 'crew':
      return `gt-${identity.rig}-crew-${identity.name}`;
    case 'witness':
    case 'refinery':
      return `gt-${identity.rig}-${identity.role}`;
    default:
      return `gt-${identity.role}`;
  }
}

/** Where the identity works, relative to the town root. */
export function workdirOf(identity: Identity): string {
  switch (identity.role) {
    case 'polecat':
      return `${identity.rig}/polecats/${identity.name}`;
    case 'crew':
      return `${identity.rig}/crew/${identity.name}`;
    case 'refinery':
      return `${identity.rig}/refinery`;
    case 'witness':
      return `${identity.rig}`;
    default:
      return identity.role;
  }
}

/** The identity whose workdir contains `relative` (a path under the town root), if any. */
export function identityFromPath(relative: string): Identity | undefined {
  const parts = relative.split(/[\\/]/).filter((p) => p !== '');
  const [first, kind, name] = parts;
  if (first === 'mayor') return { address: 'mayor', role: 'mayor' };
  if (first === undefined || !NAME_PATTERN.test(first)) return undefined;
  if (kind === 'polecats' && name !== undefined && NAME_PATTERN.test(name)) return polecatIdentity(first, name);
  if (kind === 'crew' && name !== undefined && NAME_PATTERN.test(name)) return crewIdentity(first, name);
  if (kind === 'refinery') return { address: `${first}/refinery`, role: 'refinery', rig: first };
  return undefined;
}

/** The git author and committer an identity's commits carry (design §1: every commit carries the actor). */
export function gitIdentityEnv(identity: Identity): Record<string, string> {
  const name = identity.name ?? identity.role;
  const email = `${identity.address.replace(/\//g, '.')}@gt.local`;
  return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
}

/** The git branch a polecat works on for a bead. */
export function polecatBranch(name: string, beadId: string): string {
  return `polecat/${name}/${beadId}`;
}
