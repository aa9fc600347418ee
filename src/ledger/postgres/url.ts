/**
 * PostgreSQL ledger URLs without the driver (the hot start-up path reads these): recognizing one,
 * and the form shown to people and written to events and logs, with any password masked.
 */
export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/** The URL with its password (and any `password=` parameter) replaced by `***`. */
export function maskLedgerUrl(url: string): string {
  // The user info ends at the authority's last '@' (a raw '@' in a password does not end it early).
  const masked = url.replace(/^(postgres(?:ql)?:\/\/)([^/?#]*)@/i, (_, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@`;
  });
  return masked.replace(/([?&]password=)[^&#]*/gi, '$1***');
}
