// The qa web page: asks GET /ask and shows cited passages; shows one article from GET /documents/{doc}.
// All data reaches the page through textContent or attributes set one by one: never as HTML.
"use strict";

(() => {
  const DEFAULT_K = 5;
  const form = document.getElementById("ask");
  const input = document.getElementById("q");
  const kSelect = document.getElementById("k");
  const status = document.getElementById("status");
  const view = document.getElementById("view");
  let inFlight = null;

  // ------------------------------------------------------------ small DOM helpers

  /** An element with a class (optional) and children: strings become text nodes, never markup. */
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function link(href, className, ...children) {
    const a = el("a", className, ...children);
    a.href = href;
    return a;
  }

  /**
   * A string sliced by code points, the unit of the API's offsets (Python string indices).
   * JavaScript strings count UTF-16 units, so every character outside the BMP (an emoji) would
   * shift a plain `text.slice(start, end)` by one. Out-of-range ends are clamped, as in Python.
   */
  function codePoints(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) {
      return { length: text.length, slice: (start, end = text.length) => text.slice(Math.max(0, start), Math.max(0, end)) };
    }
    const units = new Uint32Array(text.length + 1); // units[i]: the UTF-16 index of code point i
    let count = 0;
    let at = 0;
    for (const ch of text) {
      at += ch.length; // 2 for a surrogate pair, 1 otherwise (a lone surrogate counts as one code point)
      units[++count] = at;
    }
    const unit = (i) => units[Math.min(Math.max(0, i), count)];
    return { length: count, slice: (start, end = count) => text.slice(unit(start), unit(end)) };
  }

  function show(...nodes) {
    view.replaceChildren(...nodes);
  }

  /** The live status line; `busy` shows it on screen too (otherwise only screen readers hear it). */
  function setStatus(text, busy = false) {
    status.textContent = text;
    status.classList.toggle("busy", busy);
  }

  // ------------------------------------------------------------ URL state

  /** What the address bar asks for: a question, an article, or the start page. */
  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const k = Number.parseInt(params.get("k") || "", 10);
    return {
      q: params.get("q") || "",
      k: Number.isFinite(k) ? k : DEFAULT_K,
      doc: params.get("doc"),
      start: Number.parseInt(params.get("start") || "", 10),
      end: Number.parseInt(params.get("end") || "", 10),
    };
  }

  function searchUrl(q, k) {
    return "/?" + new URLSearchParams({ q: q, k: String(k) }).toString();
  }

  function articleUrl(doc, start, end) {
    const params = new URLSearchParams({ doc: doc });
    if (start !== undefined) {
      params.set("start", String(start));
      params.set("end", String(end));
    }
    return "/?" + params.toString();
  }

  function setK(k) {
    const value = String(k);
    if (![...kSelect.options].some((o) => o.value === value)) {
      kSelect.append(new Option(value, value)); // a shared link may carry any k; the API judges it
    }
    kSelect.value = value;
  }

  // ------------------------------------------------------------ talking to the API

  /** GET a JSON path; on 4xx/5xx throws an Error whose message is the API's readable detail. */
  async function getJson(path) {
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    let response;
    try {
      response = await fetch(path, { headers: { Accept: "application/json" }, signal: controller.signal });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new Error("The server could not be reached. Check that it is running and try again.");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) {
      const detail = body && typeof body.detail === "string" ? body.detail : response.statusText;
      const error = new Error(detail || "The request failed.");
      error.status = response.status;
      throw error;
    }
    if (body === null) throw new Error("The server's answer could not be read.");
    return body;
  }

  // ------------------------------------------------------------ views

  function route() {
    const state = readUrl();
    if (state.doc !== null) {
      input.value = "";
      showArticle(state.doc, state.start, state.end);
    } else if (state.q.trim()) {
      input.value = state.q;
      setK(state.k);
      ask(state.q, state.k);
    } else {
      input.value = state.q;
      setK(state.k);
      showStart();
    }
  }

  async function ask(q, k) {
    document.title = q + " · qa";
    setStatus("Searching…", true);
    view.setAttribute("aria-busy", "true");
    try {
      const result = await getJson("/ask?" + new URLSearchParams({ q: q, k: String(k) }).toString());
      show(...resultsView(result));
      const n = result.passages.length;
      setStatus(
        (n === 1 ? "1 passage" : n + " passages") +
          (result.low_confidence ? ". The articles probably don't answer this." : ".")
      );
    } catch (err) {
      if (err.name === "AbortError") return;
      setStatus("");
      show(errorView("Could not answer this question", err.message));
    } finally {
      view.removeAttribute("aria-busy");
    }
  }

  function resultsView(result) {
    const nodes = [];
    const n = result.passages.length;
    const count = n === 1 ? "1 passage" : n + " passages";
    nodes.push(el("h1", "results-title", count + " for ", el("q", "asked", result.question)));
    if (result.low_confidence) nodes.push(lowConfidenceBanner());
    if (result.notices.length) nodes.push(noticesView(result));
    if (!result.passages.length) {
      nodes.push(el("p", "message", "No passages found."));
      return nodes;
    }
    const list = el("ol", result.low_confidence ? "passages unlikely" : "passages");
    for (const passage of result.passages) list.append(passageView(passage));
    nodes.push(list);
    return nodes;
  }

  function lowConfidenceBanner() {
    const banner = el(
      "div",
      "banner",
      el("strong", null, "The articles probably don't answer this."),
      el("span", null, " The closest passages are below, but they are unlikely to be what you are looking for.")
    );
    banner.id = "low-confidence";
    banner.setAttribute("role", "alert");
    return banner;
  }

  function noticesView(result) {
    const titles = new Map(result.passages.map((p) => [p.citation.doc, p.citation.title]));
    const box = el("aside", "notices");
    box.setAttribute("aria-label", "Notices of the cited articles");
    box.append(el("h2", "notices-title", result.notices.length === 1 ? "Notice from the source" : "Notices from the sources"));
    for (const notice of result.notices) {
      const item = el("div", "notice", el("p", "notice-text", notice.text), el("p", "notice-source", titles.get(notice.doc) || notice.doc));
      item.dataset.doc = notice.doc;
      box.append(item);
    }
    return box;
  }

  function passageView(passage) {
    const c = passage.citation;
    const heading = c.section || "Introduction";
    const card = el("li", "passage");
    card.dataset.doc = c.doc;
    card.append(
      el(
        "div",
        "passage-head",
        el("span", "rank", "#" + passage.rank),
        el("span", "article", c.title),
      ),
      el("h2", "section" + (c.section ? "" : " intro"), heading),
      el("p", "passage-text", ...passageWithAnswer(passage)),
      el(
        "div",
        "passage-foot",
        scoreView(passage.score),
        link(articleUrl(c.doc, passage.answer.start, passage.answer.end), "open", "Read in the article"),
      ),
    );
    return card;
  }

  /** The passage as text nodes, with the answer sentence in a <mark>. */
  function passageWithAnswer(passage) {
    const text = passage.text;
    const answer = passage.answer.text;
    if (!answer) return [text];
    // Offsets count code points into the article's text, the section body starting at citation.start.
    const points = codePoints(text);
    const start = passage.answer.start - passage.citation.start;
    const end = passage.answer.end - passage.citation.start;
    let before;
    let after;
    if (start >= 0 && end <= points.length && points.slice(start, end) === answer) {
      before = points.slice(0, start);
      after = points.slice(end);
    } else {
      // The passage may have had navigation lines cut out before the answer: find it instead.
      const at = text.indexOf(answer); // UTF-16 units, like text.slice
      if (at < 0) return [text];
      before = text.slice(0, at);
      after = text.slice(at + answer.length);
    }
    return [before, el("mark", "answer", answer), after];
  }

  function scoreView(score) {
    const value = Math.max(0, Math.min(1, score));
    const meter = el("span", "score");
    meter.title = "Similarity between the question and the passage, 0 to 1";
    const bar = el("span", "score-bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = el("span", "score-fill");
    fill.style.width = Math.round(value * 100) + "%"; // CSSOM, allowed under the CSP
    bar.append(fill);
    meter.append("Score ", el("span", "score-value", score.toFixed(2)), bar);
    return meter;
  }

  function errorView(title, detail) {
    const box = el("div", "message error", el("strong", null, title), el("p", "detail", detail));
    box.setAttribute("role", "alert");
    return box;
  }

  async function showStart() {
    document.title = "qa · Ask the articles";
    setStatus("");
    show();
    try {
      const listing = await getJson("/documents");
      const list = el("ul", "doc-list");
      for (const d of listing.documents) {
        list.append(el("li", null, link(articleUrl(d.doc), null, d.title), el("span", "doc-id", d.doc)));
      }
      const n = listing.documents.length;
      show(el("section", "start", el("h1", "start-title", "Answers come from " + (n === 1 ? "this article" : "these " + n + " articles")), list));
    } catch (err) {
      if (err.name !== "AbortError") show(errorView("Could not list the articles", err.message));
    }
  }

  async function showArticle(doc, start, end) {
    document.title = "Article · qa";
    setStatus("Loading the article…", true);
    try {
      // A URL resolves the path segments "." and ".." (even escaped) away: no article has such an id.
      if (doc === "." || doc === "..") throw new Error("no indexed article '" + doc + "'; GET /documents lists them");
      const article = await getJson("/documents/" + encodeURIComponent(doc));
      document.title = article.title + " · qa";
      show(articleView(article, start, end));
      setStatus("");
      const target = document.getElementById("cited");
      if (target) target.scrollIntoView({ block: "center", behavior: "instant" });
    } catch (err) {
      if (err.name === "AbortError") return;
      setStatus("");
      show(errorView("Could not open this article", err.message));
    }
  }

  function articleView(article, start, end) {
    const marked = Number.isFinite(start) && Number.isFinite(end) && end > start;
    const back = link("/", "back", "← New question");
    if (window.history.length > 1 && document.referrer.startsWith(window.location.origin)) {
      back.textContent = "← Back to results";
      back.addEventListener("click", (event) => {
        event.preventDefault();
        window.history.back();
      });
    }
    const body = el("article", "doc");
    body.append(el("h1", "doc-title", article.title));
    if (article.notice) body.append(el("p", "notice doc-notice", article.notice));
    body.append(el("p", "doc-meta", article.doc + " · " + article.sections.length + " sections"));
    const points = codePoints(article.text); // section and answer offsets count code points
    for (const section of article.sections) {
      const part = el("section", "doc-section");
      if (section.heading) part.append(el("h2", "section", section.heading));
      const inside = marked && start >= section.start && end <= section.end;
      if (inside) {
        part.classList.add("cited");
        const mark = el("mark", "answer", points.slice(start, end));
        mark.id = "cited";
        mark.tabIndex = -1;
        part.append(el("p", "doc-text", points.slice(section.start, start), mark, points.slice(end, section.end)));
      } else {
        part.append(el("p", "doc-text", points.slice(section.start, section.end)));
      }
      body.append(part);
    }
    return el("div", "article-view", back, body);
  }

  // ------------------------------------------------------------ events

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) {
      setStatus("");
      show(errorView("Type a question first", "For example: How does NATO respond to an attack on a member?"));
      input.focus();
      return;
    }
    const k = Number.parseInt(kSelect.value, 10) || DEFAULT_K;
    const url = searchUrl(q, k);
    if (window.location.pathname + window.location.search !== url) window.history.pushState(null, "", url);
    ask(q, k);
  });

  window.addEventListener("popstate", route);
  route();
})();
