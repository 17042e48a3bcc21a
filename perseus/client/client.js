// perseus client runtime: after the first full page, same-site links fetch only
// /.perseus/page/<locale>/<path>.json and swap the head and the content in place.
const meta = data("__perseus_meta");
const BOUNDARY = 'meta[itemprop="__perseus_head_boundary"]';
const HEAD_END = 'meta[itemprop="__perseus_head_end"]';
const CACHE_SIZE = 30; // pages kept in memory, least recently used dropped first
const CACHE_AGE = 300e3; // ms: a page kept longer is asked for again
const MAX_PREFETCHES = 2; // in flight at once
const HOVER_DELAY = 65; // ms a pointer rests on a link before it is prefetched
const MAX_REDIRECTS = 5;

function data(id) {
  // A JSON island of the page; undefined when the page has none.
  const island = document.getElementById(id);
  return island ? JSON.parse(island.textContent) : undefined;
}

const root = () => document.getElementById("root");
const emit = (name, detail) => document.dispatchEvent(new CustomEvent("perseus:" + name, { detail }));
const report = (what, error) => console.error("perseus: " + what, error);

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
  // The query string goes along: a page rendered per request reads it.
  return `${meta.base}/.perseus/page/${encodeURIComponent(locale)}/${encoded}.json${url.search}`;
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
      next.before(node.nodeName === "SCRIPT" ? runnable(node) : node);
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

function runnable(old) {
  // A copy of a parsed <script> that the browser runs once inserted (parsed from HTML
  // strings, scripts never run). Ordered like a full load's unless marked async.
  const script = document.createElement("script");
  for (const { name, value } of Array.from(old.attributes)) script.setAttribute(name, value);
  if (!old.hasAttribute("async")) script.async = false;
  script.nonce = old.nonce;
  script.text = old.text;
  return script;
}

async function runScripts(container) {
  // As on a full load: classic scripts in order (an external one loaded before the next
  // runs), then modules and deferred scripts, in order too.
  const scripts = Array.from(container.querySelectorAll("script"));
  const later = (script) => script.type === "module" || script.hasAttribute("defer");
  for (const old of scripts.filter((script) => !later(script))) {
    const script = runnable(old);
    const loaded = script.src && !script.async && new Promise((done) => (script.onload = script.onerror = done));
    old.replaceWith(script);
    await loaded;
  }
  scripts.filter(later).forEach((old) => old.replaceWith(runnable(old)));
}

// Pages fetched, by JSON URL: [page, when]; Map order is use order.
const cache = new Map();
const inflight = new Map();

function remember(key, page) {
  cache.delete(key);
  cache.set(key, page);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
}

function cached(key) {
  const entry = cache.get(key);
  if (!entry || Date.now() - entry[1] > CACHE_AGE) return null;
  remember(key, entry);
  return { status: 200, page: entry[0] };
}

function load(key, low) {
  // One request per URL at a time: a click on a link being prefetched waits for that answer.
  let answer = inflight.get(key);
  if (!answer) {
    answer = request(key, low).finally(() => inflight.delete(key));
    inflight.set(key, answer);
  }
  return answer;
}

async function request(key, low) {
  // {status, page}, or null when only a full load can tell (no answer, not JSON).
  try {
    const response = await fetch(key, { headers: { accept: "application/json" }, priority: low ? "low" : "auto" });
    if (!/json/.test(response.headers.get("content-type"))) return null;
    const page = await response.json();
    // NOTE: "no-store" (a page rendered per request) is never kept: it is asked for each time.
    if (response.ok && page.redirect === undefined && !/no-store/.test(response.headers.get("cache-control"))) {
      remember(key, [page, Date.now()]);
    }
    return { status: response.status, page };
  } catch (_) {
    return null;
  }
}

const prefetched = new Set();
let prefetching = 0;

function prefetch(link) {
  const url = pageUrl(link);
  // Not the page shown (its own links, fragments), nor for a visitor saving data.
  if (!url || url.pathname + url.search === shown || (navigator.connection || {}).saveData) return;
  const key = dataUrl(url);
  if (prefetched.has(key) || inflight.has(key) || cached(key) || prefetching >= MAX_PREFETCHES) return;
  prefetched.add(key);
  prefetching++;
  load(key, true).finally(() => prefetching--);
}

// Page scripts: the modules of the shown page's template, mounted on #root.
let generation = 0;
const unmounts = [];

async function mount(page, info) {
  const mine = generation;
  const scripts = page.scripts || [];
  const modules = await Promise.all(scripts.map((src) => import(src).catch((error) => report(src, error))));
  modules.forEach((module, index) => {
    if (mine !== generation || !module) return; // the page was left before its scripts loaded
    try {
      const unmount = module.mount(root(), info);
      if (typeof unmount === "function") unmounts.push(unmount);
    } catch (error) {
      report(scripts[index], error);
    }
  });
}

function unmountScripts() {
  generation++;
  for (const unmount of unmounts.splice(0)) {
    try {
      unmount();
    } catch (error) {
      report("unmount", error);
    }
  }
}

// Scroll positions by history entry (history.state.key); history.state.scroll keeps
// them across a reload or another site's pages.
const positions = new Map();
let entry = entryKey();
let navigations = 0;
let persisting;

function entryKey() {
  const state = history.state || {};
  if (state.key) return state.key;
  const key = String(Math.random());
  history.replaceState({ ...state, key }, "");
  return key;
}

function keepScroll() {
  positions.set(entry, [scrollX, scrollY]);
  clearTimeout(persisting);
  persisting = setTimeout(persistScroll, 200);
}

function persistScroll() {
  clearTimeout(persisting);
  history.replaceState({ ...history.state, scroll: [scrollX, scrollY] }, "");
}

function scroll(url, position) {
  if (position) return scrollTo(...position);
  const target = url.hash && document.getElementById(decodeURIComponent(url.hash.slice(1)));
  if (target) target.scrollIntoView();
  else scrollTo(0, 0);
}

// Screen readers hear the new page's title; focus moves to the content, where a full load
// would start (the next Tab goes to its first link); the view's HTML is left as it is.
const announcer = document.createElement("div");
announcer.setAttribute("aria-live", "polite");
announcer.setAttribute("aria-atomic", "true");
announcer.style.cssText = "position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap";
document.body.append(announcer);

function focusContent() {
  root().tabIndex = -1;
  root().style.outline = "none"; // a ring around the whole page would say nothing
  root().focus({ preventScroll: true });
  announcer.textContent = document.title;
}

const locales = new Set([meta.locale]); // those a page came from, with i18n

async function navigate(url, push, position, hops = 0) {
  const run = ++navigations;
  const leave = () => (push ? location.assign(url.href) : location.replace(url.href));
  if (!hops) emit("navigate-start", { url: url.href });
  const key = dataUrl(url);
  // NOTE: a redirect's target is asked for anew, as before the cache: it may just have changed.
  const answer = (!hops && cached(key)) || (await load(key));
  if (run !== navigations) return; // a later navigation has started
  const page = answer && answer.page;
  const { locale, path } = pagePath(url);
  if (!page) return leave();
  if (page.redirect !== undefined) {
    const target = new URL(page.redirect, location.href);
    if (hops < MAX_REDIRECTS && isPageUrl(target)) return navigate(target, push, position, hops + 1);
    return location.assign(target.href);
  }
  // A new deploy, or an error only the server can show (a locale it may negotiate).
  if (page.build !== undefined && meta.build !== undefined && page.build !== meta.build) return leave();
  if (answer.status !== 200 && (page.content === undefined || (meta.i18n && !locales.has(locale)))) return leave();
  unmountScripts();
  if (push) {
    keepScroll();
    persistScroll();
    entry = String(Math.random());
    history.pushState({ key: entry }, "", url.href);
  } else if (hops) history.replaceState({ ...history.state, key: entry }, "", url.href);
  shown = url.pathname + url.search;
  replaceHead(page.head);
  root().innerHTML = page.content;
  if (meta.i18n) {
    // A link to another locale: the page now speaks that language.
    locales.add(locale);
    meta.locale = locale;
    document.documentElement.lang = locale;
  }
  perseus.state = page.state;
  scroll(url, position);
  focusContent();
  await runScripts(root());
  await mount(page, { state: page.state, locale, path, template: page.template || "" });
  emit("navigate-end", { url: url.href, template: page.template || "" });
}

function isPageUrl(url) {
  // A page of this site (not one of perseus's own URLs, not another origin).
  if (url.origin !== location.origin) return false;
  if (!url.pathname.startsWith(meta.base + "/") && url.pathname !== meta.base) return false;
  return !url.pathname.startsWith(meta.base + "/.perseus/");
}

function pageUrl(link) {
  // The page a link leads to, when the client can show it in place.
  if (!link || (link.target && link.target !== "_self") || link.hasAttribute("download")) return null;
  if (link.dataset.perseusReload !== undefined) return null;
  const url = new URL(link.getAttribute("href"), document.baseURI);
  return isPageUrl(url) ? url : null;
}

const linkOf = (event) => event.target.closest && event.target.closest("a[href]");

document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = pageUrl(linkOf(event));
  if (!url) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    keepScroll(); // a fragment of this page: the browser scrolls there
    return;
  }
  event.preventDefault();
  navigate(url, true);
});

let hovered;
document.addEventListener("mouseover", (event) => {
  const link = linkOf(event);
  clearTimeout(hovered);
  if (link) hovered = setTimeout(() => prefetch(link), HOVER_DELAY);
});
document.addEventListener("mouseout", () => clearTimeout(hovered));
document.addEventListener("focusin", (event) => prefetch(linkOf(event)));
document.addEventListener("touchstart", (event) => prefetch(linkOf(event)), { passive: true });

addEventListener("scroll", keepScroll, { passive: true });
addEventListener("pagehide", persistScroll);
addEventListener("popstate", (event) => {
  // NOTE: a traversal leaves the scroll as it was; a new fragment entry (no key yet) has
  // already scrolled to its target, which is not where the entry left was.
  if (event.state && event.state.key) positions.set(entry, [scrollX, scrollY]);
  entry = entryKey();
  const url = new URL(location.href);
  const position = positions.get(entry) || history.state.scroll;
  if (url.pathname + url.search === shown) return event.state && event.state.key && scroll(url, position);
  navigate(url, false, position);
});

history.scrollRestoration = "manual";
let shown = location.pathname + location.search;
if (history.state.scroll) scrollTo(...history.state.scroll); // a reload, or back from another site
const first = data("__perseus_page") || {};
const perseus = {
  state: data("__perseus_state"),
  navigate: (href) => navigate(new URL(href, location.href), true),
};
window.perseus = window.__perseus = perseus;
const { locale, path } = pagePath(location);
mount(first, { state: perseus.state, locale, path, template: first.template || "" });
emit("ready");
