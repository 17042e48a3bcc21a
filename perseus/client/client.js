// perseus client runtime: after the first full page, same-site links fetch only
// /.perseus/page/<locale>/<path>.json and swap the head and the body in place.
const meta = JSON.parse(document.getElementById("__perseus_meta").textContent);
const BOUNDARY = 'meta[itemprop="__perseus_head_boundary"]';
const HEAD_END = 'meta[itemprop="__perseus_head_end"]';

function pagePath(url) {
  // The page's path below the base path (and locale, with i18n), without slashes.
  let path = decodeURIComponent(url.pathname).slice(meta.base.length).replace(/^\/+|\/+$/g, "");
  let locale = meta.locale;
  if (meta.i18n) {
    const slash = path.indexOf("/");
    locale = slash < 0 ? path : path.slice(0, slash);
    path = slash < 0 ? "" : path.slice(slash + 1);
  }
  return { locale, path };
}

function dataUrl(url) {
  const { locale, path } = pagePath(url);
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return `${meta.base}/.perseus/page/${encodeURIComponent(locale)}/${encoded}.json`;
}

function replaceHead(headHtml) {
  const start = document.head.querySelector(BOUNDARY);
  const end = document.head.querySelector(HEAD_END);
  if (!start || !end) return;
  const template = document.createElement("template");
  template.innerHTML = headHtml;
  // NOTE: an element both heads have (a stylesheet link, say) stays where it is: put in
  // anew, it would be applied again and the page would flash unstyled. Order is kept.
  let next = start.nextSibling;
  for (const node of Array.from(template.content.childNodes)) {
    let same = next;
    while (same !== end && !same.isEqualNode(node)) same = same.nextSibling;
    if (same === end) {
      next.before(node);
      continue;
    }
    while (next !== same) next = removed(next);
    next = same.nextSibling;
  }
  while (next !== end) next = removed(next);
}

function removed(node) {
  const following = node.nextSibling;
  node.remove();
  return following;
}

// A page that redirects answers its JSON with {"redirect", "status"}: followed here, a
// few hops at most, in place when the target is a page of this site.
const MAX_REDIRECTS = 5;

async function navigate(url, push, hops = 0) {
  let response;
  try {
    response = await fetch(dataUrl(url), { headers: { accept: "application/json" } });
  } catch (_) {
    response = null;
  }
  if (!response || !response.ok) {
    // Let the server render the error page (or the page) in a full load.
    window.location.assign(url.href);
    return;
  }
  const page = await response.json();
  if (page.redirect !== undefined) {
    const target = new URL(page.redirect, window.location.href);
    if (hops < MAX_REDIRECTS && isPageUrl(target)) return navigate(target, push, hops + 1);
    window.location.assign(target.href);
    return;
  }
  replaceHead(page.head);
  document.getElementById("root").innerHTML = page.content;
  window.__perseus.state = page.state;
  const { locale } = pagePath(url);
  if (meta.i18n && locale !== meta.locale) {
    // A link to another locale: the page now speaks that language.
    meta.locale = locale;
    document.documentElement.lang = locale;
  }
  if (push) history.pushState({ perseus: true }, "", url.href);
  else if (hops) history.replaceState({ perseus: true }, "", url.href);
  if (url.hash) document.getElementById(url.hash.slice(1))?.scrollIntoView();
  else if (push) window.scrollTo(0, 0);
  document.dispatchEvent(new CustomEvent("perseus:navigate", { detail: { url: url.href } }));
}

function isPageUrl(url) {
  // A page of this site (not one of perseus's own URLs, not another origin).
  if (url.origin !== window.location.origin) return false;
  if (!url.pathname.startsWith(meta.base + "/") && url.pathname !== meta.base) return false;
  return !url.pathname.startsWith(meta.base + "/.perseus/");
}

function sameSiteLink(event) {
  if (event.defaultPrevented || event.button !== 0) return null;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return null;
  const link = event.target.closest && event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download") || link.dataset.perseusReload !== undefined) return null;
  const url = new URL(link.href, window.location.href);
  if (!isPageUrl(url)) return null;
  if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash) return null;
  return url;
}

window.__perseus = {
  state: JSON.parse(document.getElementById("__perseus_state").textContent),
  navigate: (href) => navigate(new URL(href, window.location.href), true),
};

document.addEventListener("click", (event) => {
  const url = sameSiteLink(event);
  if (!url) return;
  event.preventDefault();
  navigate(url, true);
});

window.addEventListener("popstate", () => navigate(new URL(window.location.href), false));
document.dispatchEvent(new CustomEvent("perseus:ready"));
