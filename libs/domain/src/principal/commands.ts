export type PrincipalCommand =
  /** Records a principal and its grants. Its token is minted and kept (hashed) by the node, outside the log. */
  | { type: 'CreatePrincipal'; name: string; grants: string[] }
  | { type: 'ChangePrincipalGrants'; name: string; grants: string[] }
  | { type: 'RevokePrincipal'; name: string };
export type PrincipalCommandType = PrincipalCommand['type'];
