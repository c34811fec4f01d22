export interface PrincipalState {
  /** A revoked principal's name may be created again (a new token, new grants); its stream continues. */
  status: 'none' | 'active' | 'revoked';
  name: string | null;
  grants: readonly string[];
}

export const initialPrincipalState = (): PrincipalState => ({ status: 'none', name: null, grants: [] });
