// The task page: keyboard shortcuts, drag-to-rank, marking spans, slider values, a refused
// form's answers put back, drafts kept in the browser, and time on task. Every listener is on
// the document, so all of it keeps working on a card htmx swaps in. The page's markup says
// what each key does (data-key, data-focus-key, data-points, data-rank-item), so this file
// knows few kinds. Its words come from the page (#agora-strings), in the page's language.
(function () {
  "use strict";
  let shownAt = performance.now();
  let shownFor = null; // the task the clock runs for: a refused form keeps its clock

  function judge() { return document.getElementById("judge"); }
  // A message in the page's language: the template's translation if it has one, else English.
  function msg(key, english) {
    const el = document.querySelector('#agora-strings [data-msg="' + key + '"]');
    return el ? el.textContent.trim() : english;
  }
  const TEXT_INPUTS = ["text", "number", "search", "email", "url", "tel", "password"];
  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && TEXT_INPUTS.includes(el.type);
  }
  // Radios, checkboxes and sliders already move with the arrow keys; so does a focused
  // panel or code block that scrolls.
  function arrowsAreNative(el) {
    if (el && el.dataset && el.dataset.scrollFocus) return true;
    return el && el.tagName === "INPUT" && ["radio", "checkbox", "range"].includes(el.type);
  }

  // A response panel or code block that scrolls can be scrolled from the keyboard: it takes
  // focus (Tab), then the arrow keys scroll it. Only those that do overflow, so short answers
  // add no tab stops; looked at again when the card changes or the window is resized.
  function scrollersReachable() {
    document.querySelectorAll("main .scroll, main .md pre, main pre.raw").forEach(function (el) {
      // A folded response (a phone's glance) unfolds by its button, not by scrolling.
      const scrolls = !el.classList.contains("folded") &&
        (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1);
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.tabIndex = 0;
        el.dataset.scrollFocus = "1";
      } else if (!scrolls && el.dataset.scrollFocus) {
        el.removeAttribute("tabindex");
        delete el.dataset.scrollFocus;
      }
    });
  }
  let resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { foldSetUp(); scrollersReachable(); }, 150);
  });
  function changed(el) { el.dispatchEvent(new Event("change", { bubbles: true })); }

  // --- picking answers by key -------------------------------------------------------------

  // The part of the form a key answers: the one with focus, else the first still unanswered
  // (a per-attribute pairwise form has one per attribute).
  function keyScope(form, target) {
    const mine = target.closest && target.closest("[data-key-scope]");
    if (mine && form.contains(mine)) return mine;
    const scopes = Array.from(form.querySelectorAll("[data-key-scope]"));
    return scopes.find(function (s) { return !s.querySelector("input:checked"); }) || scopes[0] || form;
  }
  function pick(scope, key) {
    const input = scope.querySelector('input[data-key="' + key + '"]');
    if (!input) return false;
    input.checked = true;
    input.focus();
    changed(input);
    return true;
  }
  // 1-9 on a focused Likert scale: that point, counted from the lowest.
  function pickPoint(target, digit) {
    const points = target.closest && target.closest("[data-points]");
    if (!points) return false;
    const input = points.querySelectorAll("input[data-point]")[digit - 1];
    if (!input) return false;
    input.checked = true;
    input.focus();
    changed(input);
    return true;
  }

  // --- ranking ------------------------------------------------------------------------------

  function rankItems(list) { return Array.from(list.querySelectorAll(":scope > [data-rank-item]")); }
  function placeInput(item) { return item.querySelector(".place-input"); }
  // The places follow the order on screen: 1 for the first, 2 for the next...
  function renumber(list) {
    rankItems(list).forEach(function (item, i) { placeInput(item).value = i + 1; });
    placesShow(list);
  }
  // The order on screen follows the places typed; unplaced ones stay last, in their order.
  function sortByPlace(list) {
    rankItems(list)
      .map(function (item, i) {
        const place = parseInt(placeInput(item).value, 10);
        return [isNaN(place) ? Infinity : place, i, item];
      })
      .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; })
      .forEach(function (entry) { list.appendChild(entry[2]); });
    placesShow(list);
  }
  function moveTo(item, index) {
    const list = item.parentNode;
    const others = rankItems(list).filter(function (i) { return i !== item; });
    index = Math.max(0, Math.min(index, others.length));
    list.insertBefore(item, others[index] || null);
    renumber(list);
    item.focus();
    item.scrollIntoView({ block: "nearest" });
  }
  function rankKey(e, item) {
    const list = item.parentNode;
    const items = rankItems(list);
    const at = items.indexOf(item);
    if (/^[1-9]$/.test(e.key)) {
      const place = Number(e.key);
      if (place > items.length) return false;
      if (list.dataset.allowTies === "true") {
        // With ties allowed a place is a number others may share; nothing else moves.
        placeInput(item).value = place;
        sortByPlace(list);
        item.focus();
      } else {
        moveTo(item, place - 1);
      }
      return true;
    }
    if (e.key === "ArrowUp" && at > 0) { moveTo(item, at - 1); return true; }
    if (e.key === "ArrowDown" && at < items.length - 1) { moveTo(item, at + 1); return true; }
    return e.key === "ArrowUp" || e.key === "ArrowDown";
  }

  let dragged = null;
  document.addEventListener("dragstart", function (e) {
    const grip = e.target.closest && e.target.closest("[data-grip]");
    if (!grip) return;
    dragged = grip.closest("[data-rank-item]");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", ""); // some browsers start no drag without data
    e.dataTransfer.setDragImage(dragged, 24, 24);
    dragged.classList.add("dragging");
  });
  document.addEventListener("dragover", function (e) {
    if (!dragged) return;
    const over = e.target.closest && e.target.closest("[data-rank-item]");
    if (!over || over.parentNode !== dragged.parentNode) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (over === dragged) return;
    const list = over.parentNode;
    const r = over.getBoundingClientRect();
    // Side by side, the half of the item the pointer is in says before or after; stacked,
    // the same along the height.
    const columns = getComputedStyle(list).gridTemplateColumns.split(" ").length;
    const after = columns > 1 ? e.clientX > r.left + r.width / 2 : e.clientY > r.top + r.height / 2;
    const ref = after ? over.nextElementSibling : over;
    if (ref !== dragged && dragged.nextElementSibling !== ref) list.insertBefore(dragged, ref);
  });
  document.addEventListener("drop", function (e) { if (dragged) e.preventDefault(); });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    renumber(dragged.parentNode);
    keep(dragged);
    dragged = null;
  });

  // Tap to place (touch screens and narrow windows): each card's buttons 1..k give it that
  // place; the cards stay where they are, so nothing jumps under the finger. Without ties, a
  // place already taken goes to the card that gave it up (the two swap).
  function placesShow(list) {
    rankItems(list).forEach(function (item) {
      const value = placeInput(item).value;
      item.querySelectorAll("[data-place]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.dataset.place === value ? "true" : "false");
      });
    });
  }
  function placeTap(button) {
    const item = button.closest("[data-rank-item]");
    const list = item.parentNode;
    const place = button.dataset.place;
    const mine = placeInput(item);
    if (list.dataset.allowTies !== "true") {
      rankItems(list).forEach(function (other) {
        if (other !== item && placeInput(other).value === place) placeInput(other).value = mine.value;
      });
    }
    mine.value = place;
    placesShow(list);
  }

  // --- sliders ------------------------------------------------------------------------------

  function unmoved() { return msg("slider-unmoved", "Move the slider to give a score."); }
  function sliderShow(input) {
    const out = input.parentNode.querySelector("output");
    if (out) { out.textContent = input.value; delete out.dataset.untouched; }
    input.setCustomValidity("");
  }

  // --- spans of a critique -----------------------------------------------------------------

  function spanError(form, message) {
    const box = form.querySelector("[data-span-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }
  function rawText() {
    const data = document.getElementById("critique-raw");
    return data ? JSON.parse(data.textContent) : "";
  }
  // The text as a page shows it: the browser reads "\r\n" and "\r" as "\n".
  function shown(raw) { return raw.replace(/\r\n?/g, "\n"); }
  // An offset into the shown text, as an offset into the stored text in code points (what
  // Python counts; an emoji is one character there, two here).
  function storedOffset(raw, at) {
    let i = 0;
    for (let n = 0; n < at && i < raw.length; n++) i += raw[i] === "\r" && raw[i + 1] === "\n" ? 2 : 1;
    return Array.from(raw.slice(0, i)).length;
  }
  function textBefore(root, node, offset) {
    const r = document.createRange();
    r.selectNodeContents(root);
    r.setEnd(node, offset);
    return r.toString().length;
  }
  // Where selected words of the formatted response are in the plain text: the words in order,
  // with whitespace or Markdown marks between them; of several matches, the one nearest
  // to where the selection sits in the formatted text.
  function findInText(text, needle, near) {
    const words = needle.trim().split(/\s+/).filter(Boolean);
    if (!words.length) return null;
    const escaped = words.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    const re = new RegExp(escaped.join("[\\s*_`#>~|+-]+"), "g");
    let best = null;
    let m;
    while ((m = re.exec(text)) !== null) {
      const d = Math.abs(m.index / Math.max(text.length, 1) - near);
      if (!best || d < best[2]) best = [m.index, m.index + m[0].length, d];
      if (m[0].length === 0) re.lastIndex++;
    }
    return best && [best[0], best[1]];
  }
  function spanAdd(form, start, end, quote, note) {
    const template = form.querySelector("[data-span-template]");
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelector('[name="span_start"]').value = start;
    row.querySelector('[name="span_end"]').value = end;
    row.querySelector("[data-span-quote]").textContent = quote.length > 160 ? quote.slice(0, 157) + "…" : quote;
    row.querySelector('[name="span_note"]').value = note || "";
    form.querySelector("[data-span-list]").appendChild(row);
    return row;
  }
  function markSelection(form) {
    const article = form.querySelector("[data-critique]");
    if (!article || !form.querySelector("[data-spans]")) return false;
    const pre = article.querySelector("[data-raw]");
    const rendered = article.querySelector("[data-rendered]");
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) {
      spanError(form, msg("span-none", "Select some words of the response first, then mark them."));
      return true;
    }
    const range = sel.getRangeAt(0);
    const raw = rawText();
    const text = shown(raw);
    let start, end;
    if (!pre.hidden && pre.contains(range.startContainer) && pre.contains(range.endContainer)) {
      start = textBefore(pre, range.startContainer, range.startOffset);
      end = textBefore(pre, range.endContainer, range.endOffset);
    } else if (rendered.contains(range.startContainer) && rendered.contains(range.endContainer)) {
      const near = textBefore(rendered, range.startContainer, range.startOffset) /
        Math.max(rendered.textContent.length, 1);
      const found = findInText(text, sel.toString(), near);
      if (!found) {
        spanError(form, msg("span-formatting", "That selection crosses formatting this page " +
          "cannot trace back; press “Show plain text” and select it there."));
        return true;
      }
      start = found[0];
      end = found[1];
    } else {
      spanError(form, msg("span-outside", "Select words inside the response."));
      return true;
    }
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    if (end <= start) { spanError(form, msg("span-none", "Select some words of the response first, then mark them.")); return true; }
    spanError(form, "");
    const row = spanAdd(form, storedOffset(raw, start), storedOffset(raw, end), text.slice(start, end), "");
    sel.removeAllRanges();
    row.querySelector('[name="span_note"]').focus();
    return true;
  }

  // --- a refused form, put back ------------------------------------------------------------

  // The server puts back the answers whose field names are fixed; those named per candidate
  // or per attribute (rank-812, rate-812-0, label-3...) come back here from #judge-draft.
  // A draft kept in this browser has the same shape ({name: [values]}) and comes back the same
  // way.
  function serverDraft(form) {
    const data = document.getElementById("judge-draft");
    return data && form.contains(data) ? JSON.parse(data.textContent) : null;
  }
  function restore(form, draft) {
    if (!draft) return;
    Object.keys(draft).forEach(function (name) {
      if (name.indexOf("span_") === 0) return;
      const values = draft[name];
      let n = 0;
      form.querySelectorAll('[name="' + CSS.escape(name) + '"]').forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") el.checked = values.includes(el.value);
        else if (el.type !== "hidden" && el.type !== "file" && n < values.length) el.value = values[n++];
        if (el.matches("[data-slider]")) sliderShow(el);
      });
    });
    if (draft.span_start && form.querySelector("[data-span-template]")) {
      const raw = Array.from(rawText());
      draft.span_start.forEach(function (start, i) {
        const end = (draft.span_end || [])[i];
        const s = parseInt(start, 10);
        const e = parseInt(end, 10);
        if (isNaN(s) || isNaN(e)) return;
        spanAdd(form, s, e, shown(raw.slice(s, e).join("")), (draft.span_note || [])[i]);
      });
    }
    form.querySelectorAll("[data-ranking]").forEach(sortByPlace);
    barShow(form);
  }

  // --- drafts: what the annotator entered, kept in this browser until it is stored ----------

  // Kept in localStorage under the assignment's id, saved as the annotator works: a reload, a
  // closed tab, a lost connection or a login that ran out mid-task never loses an answer. A
  // stored or skipped task clears its draft; a draft older than a week is dropped.
  const DRAFT_PREFIX = "agora:draft:";
  const DRAFT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  const NOT_KEPT = ["csrfmiddlewaretoken", "idempotency_key", "seconds_spent"];
  function storage() {
    try { return window.localStorage; } catch (err) { return null; } // storage may be off
  }
  function assignmentIn(path) {
    const m = /\/assignments\/(\d+)\//.exec(path || "");
    return m ? m[1] : null;
  }
  function assignmentOf(form) { return assignmentIn(form && form.getAttribute("action")); }
  function draftLoad(form) {
    const store = storage();
    const id = assignmentOf(form);
    if (!store || !id) return null;
    try {
      const kept = JSON.parse(store.getItem(DRAFT_PREFIX + id) || "null");
      return kept && kept.fields;
    } catch (err) { return null; }
  }
  function draftSave(form) {
    const store = storage();
    const id = assignmentOf(form);
    if (!store || !id) return;
    const fields = {};
    Array.from(form.elements).forEach(function (el) {
      if (!el.name || el.disabled || NOT_KEPT.includes(el.name)) return;
      if (["submit", "button", "file", "reset"].includes(el.type)) return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      // An unmoved slider sits at its midpoint, which is no answer.
      if (el.matches("[data-slider]") && el.validationMessage) return;
      (fields[el.name] = fields[el.name] || []).push(el.value);
    });
    try {
      store.setItem(DRAFT_PREFIX + id, JSON.stringify({ saved: Date.now(), fields: fields }));
    } catch (err) { /* storage full or off: the form itself still holds the answer */ }
  }
  function draftClear(id) {
    const store = storage();
    if (store && id) store.removeItem(DRAFT_PREFIX + id);
  }
  function draftsPrune() {
    const store = storage();
    if (!store) return;
    const now = Date.now();
    for (let i = store.length - 1; i >= 0; i--) {
      const key = store.key(i);
      if (!key || key.indexOf(DRAFT_PREFIX) !== 0) continue;
      let saved = 0;
      try { saved = JSON.parse(store.getItem(key)).saved || 0; } catch (err) { /* unreadable */ }
      if (now - saved > DRAFT_MAX_AGE_MS) store.removeItem(key);
    }
  }
  function keep(target) {
    const form = judge();
    if (form && target && form.contains(target)) draftSave(form);
  }

  // --- phones: the action bar and responses folded to a glance --------------------------------

  // The bar at the bottom of a narrow screen (CSS makes .actions sticky there) carries the
  // task's one choice (A / B / tie / both bad; thumbs up / down) beside Submit and Skip: a
  // button per radio of the form's only answer group, kept in step with it.
  function labelWords(input) {
    const label = input.closest("label");
    if (!label) return input.value;
    const copy = label.cloneNode(true);
    copy.querySelectorAll("kbd, input, .glyph").forEach(function (k) { k.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }
  function barSetUp(form) {
    const bar = form.querySelector(".actions");
    const scopes = form.querySelectorAll("[data-key-scope]");
    if (!bar || scopes.length !== 1 || bar.querySelector(".bar-choices")) return;
    const radios = Array.from(scopes[0].querySelectorAll("input[type=radio][data-key]"));
    const main = radios.filter(function (r) { return radios.length && r.name === radios[0].name; });
    if (!main.length) return;
    const group = document.createElement("div");
    group.className = "bar-choices";
    group.setAttribute("role", "group");
    const legend = main[0].closest("fieldset") && main[0].closest("fieldset").querySelector("legend");
    group.setAttribute("aria-label", legend ? legend.textContent.replace(/\s+/g, " ").trim() : main[0].name);
    main.forEach(function (radio) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "bar-choice";
      b.dataset.pick = radio.value;
      b.dataset.pickName = radio.name;
      b.textContent = labelWords(radio);
      group.appendChild(b);
    });
    bar.insertBefore(group, bar.firstChild);
    barShow(form);
  }
  function barShow(form) {
    form.querySelectorAll("[data-pick]").forEach(function (b) {
      const radio = form.querySelector('input[name="' + CSS.escape(b.dataset.pickName) + '"][value="' + CSS.escape(b.dataset.pick) + '"]');
      b.setAttribute("aria-pressed", radio && radio.checked ? "true" : "false");
    });
  }
  // Long responses, on a narrow screen, fold to a few lines each so that both are seen at a
  // glance; a button under each unfolds it whole.
  const NARROW = window.matchMedia("(max-width: 899px)");
  function foldSetUp() {
    document.querySelectorAll("#judge .candidate > .md.scroll").forEach(function (box, i) {
      let toggle = box.nextElementSibling && box.nextElementSibling.matches("[data-fold]") ? box.nextElementSibling : null;
      const folded = NARROW.matches && !box.classList.contains("unfolded");
      box.classList.toggle("folded", folded);
      const long = box.classList.contains("unfolded") || box.scrollHeight > box.clientHeight + 1;
      if (!NARROW.matches || !long) { if (toggle) toggle.remove(); box.classList.remove("folded"); return; }
      if (!toggle) {
        toggle = document.createElement("button");
        toggle.type = "button";
        toggle.className = "secondary small fold";
        toggle.dataset.fold = "1";
        box.id = box.id || "response-body-" + i;
        toggle.setAttribute("aria-controls", box.id);
        box.after(toggle);
      }
      const open = box.classList.contains("unfolded");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.textContent = open ? msg("collapse", "Show less") : msg("expand", "Show the whole response");
    });
    scrollersReachable();
  }
  NARROW.addEventListener("change", foldSetUp);

  function setUp() {
    const form = judge();
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    form.querySelectorAll("[data-slider]").forEach(function (input) {
      input.setCustomValidity(unmoved()); // its midpoint is no answer until it is moved
    });
    draftsPrune();
    // What this browser kept is at least as recent as what a refused form sent back.
    restore(form, draftLoad(form) || serverDraft(form));
    if (shownFor !== form.action) { shownFor = form.action; shownAt = performance.now(); }
    form.querySelectorAll("[data-ranking]").forEach(placesShow);
    barSetUp(form);
    foldSetUp();
  }
  // A new card (the next task after a submit or a skip, or this one refused) takes the focus
  // itself: htmx would put it back in the text box of the same id (the Reason box), where the
  // next A, B or 1-9 would be typed as text. From the card, every key in the panel works.
  document.addEventListener("htmx:afterSwap", function () {
    const card = document.getElementById("task");
    if (!card || !card.isConnected) return;
    const at = document.activeElement;
    if (at && at !== document.body && !card.contains(at)) return; // focus is elsewhere on purpose
    card.focus({ preventScroll: true });
  });
  // Times the server writes in UTC (a lease's end, an estimate), shown in the reader's own time
  // zone and language; data-local-time="date" adds the day.
  function localTimes() {
    const lang = document.documentElement.lang || undefined;
    document.querySelectorAll("time[data-local-time]:not([data-localised])").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      const options = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
      if (el.dataset.localTime === "date") { options.day = "numeric"; options.month = "short"; }
      try { el.textContent = when.toLocaleString(lang, options); } catch (err) { return; }
      el.dataset.localised = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", localTimes);
  document.addEventListener("htmx:load", localTimes);
  document.addEventListener("DOMContentLoaded", setUp);
  document.addEventListener("htmx:load", setUp);
  document.addEventListener("DOMContentLoaded", scrollersReachable);
  document.addEventListener("htmx:load", scrollersReachable);

  // --- events ---------------------------------------------------------------------------------

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-slider]")) sliderShow(e.target);
    keep(e.target);
  });
  document.addEventListener("change", function (e) {
    const form = judge();
    if (form && form.contains(e.target) && e.target.type === "radio") barShow(form);
    if (e.target.matches && e.target.matches(".place-input")) {
      const list = e.target.closest("[data-ranking]");
      sortByPlace(list);
      e.target.focus();
    }
    keep(e.target);
  });
  document.addEventListener("click", function (e) {
    const form = judge();
    const t = e.target.closest ? e.target : null;
    if (!form || !t) return;
    if (t.closest("[data-place]") && form.contains(t)) { placeTap(t.closest("[data-place]")); draftSave(form); }
    else if (t.closest("[data-pick]") && form.contains(t)) {
      const b = t.closest("[data-pick]");
      const radio = form.querySelector('input[name="' + CSS.escape(b.dataset.pickName) + '"][value="' + CSS.escape(b.dataset.pick) + '"]');
      if (radio) { radio.checked = true; changed(radio); }
    }
    else if (t.closest("[data-fold]")) {
      const box = document.getElementById(t.closest("[data-fold]").getAttribute("aria-controls"));
      box.classList.toggle("unfolded");
      foldSetUp();
      if (!box.classList.contains("unfolded")) box.closest(".candidate").scrollIntoView({ block: "nearest" });
    }
    else if (t.closest("[data-mark]")) { e.preventDefault(); markSelection(form); draftSave(form); }
    else if (t.closest("[data-span-remove]")) {
      e.preventDefault();
      t.closest(".span-row").remove();
      draftSave(form);
    }
    else if (t.closest("[data-raw-toggle]")) {
      const button = t.closest("[data-raw-toggle]");
      const article = button.closest("[data-critique]");
      const plain = button.getAttribute("aria-pressed") !== "true";
      article.querySelector("[data-raw]").hidden = !plain;
      article.querySelector("[data-rendered]").hidden = plain;
      button.setAttribute("aria-pressed", plain ? "true" : "false");
      button.textContent = plain ? msg("show-formatted", "Show formatted") : msg("show-plain", "Show plain text");
      scrollersReachable();
    }
  });

  document.addEventListener("keydown", function (e) {
    const form = judge();
    if (!form || e.defaultPrevented) return;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && form.contains(e.target)) {
      e.preventDefault();
      form.requestSubmit();
      return;
    }
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    let handled = false;
    const item = t.matches && t.matches("[data-rank-item]") ? t : null;
    if (item && form.contains(item)) handled = rankKey(e, item);
    if (!handled && /^[1-9]$/.test(k)) handled = pickPoint(t, Number(k));
    if (!handled && (k === "ArrowLeft" || k === "ArrowRight") && !arrowsAreNative(t)) {
      handled = pick(keyScope(form, t), k === "ArrowLeft" ? "a" : "b");
    }
    if (!handled && k.length === 1) handled = pick(keyScope(form, t), k);
    if (!handled && k.length === 1) {
      const field = form.querySelector('[data-focus-key="' + CSS.escape(k) + '"]');
      if (field) { field.focus(); handled = true; }
    }
    if (!handled && k === "m") handled = markSelection(form);
    if (!handled && k === "s") { document.getElementById("skip-button").click(); handled = true; }
    if (!handled && k === "Enter" && !t.closest("button, a, summary")) { form.requestSubmit(); handled = true; }
    if (handled) { e.preventDefault(); draftSave(form); }
  });

  // --- a missing answer, said by the page ---------------------------------------------------

  // The form is `novalidate`: rather than the browser's own bubble ("Please select one of these
  // options", in the browser's language, gone in a second), the page says which question is
  // still open, beside Submit, and puts the focus on it. The server checks the same again.
  function questionOf(el) {
    const set = el.closest("fieldset");
    const legend = set && set.querySelector(":scope > legend");
    let words = "";
    if ((el.type === "radio" || el.type === "range") && legend) {
      words = legend.firstChild ? legend.firstChild.textContent : legend.textContent;
    } else if (el.labels && el.labels.length) {
      const label = el.labels[0].cloneNode(true);
      label.querySelectorAll("kbd").forEach(function (k) { k.remove(); });
      words = label.textContent;
    }
    return words.replace(/\s+/g, " ").trim();
  }
  function invalidSay(form, text) {
    const box = form.querySelector("#judge-invalid");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }
  function checkBeforeSend(e) {
    const form = e.target;
    if (!form || form.id !== "judge") return;
    const first = Array.from(form.elements).find(function (el) {
      return el.willValidate && !el.checkValidity();
    });
    if (!first) { invalidSay(form, ""); return; }
    e.preventDefault();
    e.stopImmediatePropagation(); // htmx's own listener on the form never sees it
    const what = questionOf(first);
    let text = what ? msg("invalid", "Not sent yet: answer “{what}” first.").replace("{what}", what)
      : msg("invalid-any", "Not sent yet: one answer is missing.");
    if (first.validationMessage && first.matches("[data-slider]")) text += " " + first.validationMessage;
    invalidSay(form, text);
    // A place typed on a wide screen is tapped on a narrow one: its buttons take the focus.
    const shownInstead = first.offsetParent === null && first.closest("[data-rank-item]");
    if (shownInstead) shownInstead.querySelector("[data-place]").focus();
    else first.focus();
  }
  // Capture, on the document: before htmx's listener on the form itself.
  document.addEventListener("submit", checkBeforeSend, true);
  document.addEventListener("change", function (e) {
    const form = judge();
    if (form && form.contains(e.target) && form.checkValidity()) invalidSay(form, "");
  });

  // Time on task, sent with the judgment.
  document.addEventListener("submit", function (e) {
    const field = e.target.querySelector && e.target.querySelector('input[name="seconds_spent"]');
    if (field) field.value = ((performance.now() - shownAt) / 1000).toFixed(1);
  }, true);

  // A failed request leaves the form as it was and offers to send it again, with the same
  // idempotency key, so a submit that did reach the server is stored once.
  // The Enter that sent the request may still be down when its failure arrives (a connection
  // refused at once): Chromium activates the newly focused Try again with that same press, which
  // would retry unasked. A retry by keyboard counts only after the key that sent it is released.
  let lastFailed = null;
  let enterDown = false;
  let retryArmed = true;
  document.addEventListener("keydown", function (e) { if (e.key === "Enter") enterDown = true; }, true);
  document.addEventListener("keyup", function (e) {
    if (e.key !== "Enter") return;
    enterDown = false;
    retryArmed = true;
  }, true);
  function offerRetry(e) {
    lastFailed = e.detail.elt;
    retryArmed = !enterDown;
    document.getElementById("net-error").hidden = false;
    document.getElementById("net-retry").focus();
  }
  document.addEventListener("htmx:sendError", offerRetry);
  // 503: the server is there but its database is not, for a moment; the same retry applies.
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 503) offerRetry(e);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful) document.getElementById("net-error").hidden = true;
    // A 2xx answer to a submit or a skip means the task is done with: its draft goes. (The
    // form that sent it may be gone by now, swapped out; the request's path names the task.)
    const xhr = e.detail.xhr;
    if (xhr && xhr.status >= 200 && xhr.status < 300 && !sentToLogin(xhr)) {
      draftClear(assignmentIn(e.detail.requestConfig && e.detail.requestConfig.path));
    }
  });

  // A login that ran out mid-task: the request was sent to the login page. Rather than show
  // that page inside the card, go there for real and come back here; the draft waits.
  function sentToLogin(xhr) {
    const login = document.body.dataset.loginUrl;
    if (!login || !xhr || !xhr.responseURL) return false;
    return new URL(xhr.responseURL).pathname === new URL(login, location.href).pathname;
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!sentToLogin(e.detail.xhr)) return;
    const login = document.body.dataset.loginUrl;
    e.detail.shouldSwap = false;
    const form = judge();
    if (form) draftSave(form);
    window.location.assign(login + "?next=" + encodeURIComponent(location.pathname + location.search));
  });
  // A late submit whose task went to someone else: what the annotator wrote, to copy.
  document.addEventListener("click", function (e) {
    const button = e.target && e.target.closest && e.target.closest("[data-copy-kept]");
    if (!button) return;
    const boxes = button.parentElement.querySelectorAll("textarea");
    const text = Array.from(boxes, function (b) { return b.value; }).join("\n\n");
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
    boxes[0].focus();
    boxes[0].select();
  });
  document.addEventListener("click", function (e) {
    if (e.target && e.target.id === "net-retry" && lastFailed) {
      if (e.detail === 0 && !retryArmed) return;  // the sending Enter, not a new press
      document.getElementById("net-error").hidden = true;
      htmx.trigger(lastFailed, "submit");
    }
  });
})();
