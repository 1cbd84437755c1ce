// The candidate's link: <frontend>/interview/take/<interview id>/?interview_token=...&view_hm=true

/**
 * Builds links for one interview: the URL is parsed once, and each token is only encoded and
 * placed (a thousand links a request).
 */
export function interviewUrlBuilder(
  frontendUrl: string,
  interviewId: string,
  view: { hideMenu: boolean; hideIframe: boolean },
): (token: string) => string {
  const base = new URL(`/interview/take/${encodeURIComponent(interviewId)}/`, frontendUrl);
  base.search = "";
  base.hash = "";
  const prefix = `${base.toString()}?interview_token=`;
  const suffix = (view.hideMenu ? "&view_hm=true" : "") + (view.hideIframe ? "&view_hi=true" : "");
  return (token) => `${prefix}${encodeURIComponent(token)}${suffix}`;
}

export function interviewUrl(
  frontendUrl: string,
  interviewId: string,
  token: string,
  view: { hideMenu: boolean; hideIframe: boolean },
): string {
  return interviewUrlBuilder(frontendUrl, interviewId, view)(token);
}
