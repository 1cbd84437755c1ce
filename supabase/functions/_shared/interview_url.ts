// The candidate's link: <frontend>/interview/take/<interview id>/?interview_token=...&view_hm=true

export function interviewUrl(
  frontendUrl: string,
  interviewId: string,
  token: string,
  view: { hideMenu: boolean; hideIframe: boolean },
): string {
  const url = new URL(`/interview/take/${encodeURIComponent(interviewId)}/`, frontendUrl);
  url.searchParams.set("interview_token", token);
  if (view.hideMenu) url.searchParams.set("view_hm", "true");
  if (view.hideIframe) url.searchParams.set("view_hi", "true");
  return url.toString();
}
