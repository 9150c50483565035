/** What adding a local user takes (rmsctl, admin API); shared by principal-admin and admin-queries. */
export interface AddUserInput {
  name: string;
  email: string;
  password: string;
  groups: string[];
  displayName?: string | undefined;
}
